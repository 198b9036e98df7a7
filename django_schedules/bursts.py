"""How far ahead of its instant a burst is claimed (the loop's *lead*).

The look-ahead (0.1 s) covers a claim of a few rows. A burst (thousands of schedules due at one
instant, a cron's ``0 * * * *``) takes longer: every row is planned and written, then handed
to its executor, in this one process. Claimed at the usual look-ahead, 2,000 rows whose hand-off
is a broker publish each (the tasks executor) reach the broker up to a second after their
instant on two cores (benchmarks/handoff.py).

So when the earliest run comes within ``MAX_LEAD`` of now, the loop counts the rows due with it
(``store.count_due``: one indexed count, once per instant, capped at ``COUNT_CAP``), and when
their claim and hand-off are expected to outlast half the look-ahead, it claims them that much
earlier. The expected time is the rows times a row's cost, learned from the loop's own claims
of ``MIN_BURST`` rows or more, times two: the hand-off costs about what the claim does, in the
same process. Rows claimed early wait as ``pending`` until their instant, like any claimed
within the look-ahead; an executor that holds a run until its own send time (the tasks
executor's outbox, ``Executor.holds_until_due``) is handed the burst as soon as it is claimed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

MAX_LEAD = 2.0  # seconds: the most a burst is claimed ahead of the look-ahead
MIN_BURST = 100  # rows: fewer are one quick claim, never claimed early
COUNT_CAP = 10_000  # rows counted at most: MAX_LEAD caps the lead of a larger burst anyway
FIRST_ROW_COST = 0.0005  # seconds a row's claim is taken to cost before one is measured


class BurstLead:
    """The lead of the next instant, counted once per instant, and a row's claim cost."""

    def __init__(self, lookahead: float) -> None:
        self.lookahead = lookahead
        self.row_cost = FIRST_ROW_COST
        self._instant: datetime | None = None  # the earliest run the lead was counted for
        self.lead = 0.0

    def update(
        self, earliest: datetime | None, now: datetime, count: Callable[[datetime], int]
    ) -> float:
        """The lead for `earliest`, counting its rows with `count(until)` the first time it
        is within reach (earlier, or once it is within the usual look-ahead, the lead is 0)."""
        if earliest is None:
            self.lead = 0.0
        elif earliest != self._instant:
            ahead = (earliest - now).total_seconds()
            self.lead = 0.0
            self._instant = None  # a lead is for its instant only: counted again if it returns
            if self.lookahead / 2 < ahead <= MAX_LEAD + self.lookahead / 2:
                self._instant = earliest
                rows = count(earliest + timedelta(seconds=self.lookahead / 2))
                need = 2 * rows * self.row_cost
                if rows >= MIN_BURST and need > self.lookahead / 2:
                    self.lead = min(need - self.lookahead / 2, MAX_LEAD)
        return self.lead

    def horizon(self, earliest: datetime | None, now: datetime) -> datetime:
        """How far the claim reaches: the look-ahead, moved by the lead, but never past half
        a look-ahead after the burst's instant (a burst counted late, and so claimed at once,
        must not take the next occurrences of a short interval with it)."""
        horizon = now + timedelta(seconds=self.lookahead + self.lead)
        if self.lead and earliest is not None:
            usual = now + timedelta(seconds=self.lookahead)
            horizon = min(horizon, max(earliest + timedelta(seconds=self.lookahead / 2), usual))
        return horizon

    def reach(self, earliest: datetime | None) -> float:
        """How far ahead of `earliest` the loop must look next: far enough to count its rows
        while a lead can still help, unless they are counted."""
        if earliest is None or earliest == self._instant:
            return self.lead
        return MAX_LEAD

    def claimed(self, rows: int, seconds: float) -> None:
        """Learn a row's cost from a claim of `rows` rows that took `seconds`."""
        if rows >= MIN_BURST:
            self.row_cost = 0.7 * self.row_cost + 0.3 * seconds / rows
