"""Where a schedule resumes when its pause ends (``pause_job(..., until=...)``), as a table,
without a database: its first occurrence at or after the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from django_schedules.planner import failure_streak, resume_from
from django_schedules.triggers import CronTrigger, DateTrigger, IntervalTrigger

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("trigger", "until", "expected"),
    [
        # Hourly from START: an end on an occurrence resumes on it, one between two on the next.
        (IntervalTrigger(hours=1, start_date=START).to_dict(), START + 3 * HOUR, START + 3 * HOUR),
        (
            IntervalTrigger(hours=1, start_date=START).to_dict(),
            START + 3 * HOUR + timedelta(seconds=1),
            START + 4 * HOUR,
        ),
        # Weekdays at 09:00 Berlin (08:00 UTC in March before DST): a pause ending on Saturday
        # resumes on Monday.
        (
            CronTrigger(hour=9, day_of_week="mon-fri", timezone="Europe/Berlin").to_dict(),
            datetime(2026, 3, 7, 10, 0, tzinfo=UTC),
            datetime(2026, 3, 9, 8, 0, tzinfo=UTC),
        ),
        # A one-off whose date passed while paused keeps its date, as resume_job does: the
        # claim's misfire policy and grace time decide whether it still runs.
        (DateTrigger(run_date=START + HOUR).to_dict(), START + 2 * HOUR, START + HOUR),
        # A one-off still ahead runs at its date.
        (DateTrigger(run_date=START + 5 * HOUR).to_dict(), START + 2 * HOUR, START + 5 * HOUR),
        # A trigger that cannot be read resumes with no next run (as an exhausted one).
        ({"kind": "no such kind"}, START, None),
    ],
)
def test_a_pause_resumes_at_the_first_occurrence_from_its_end(
    trigger: dict[str, object], until: datetime, expected: datetime | None
) -> None:
    resumed = resume_from(trigger, until)
    assert resumed == expected
    assert resumed is None or resumed.tzinfo is UTC


@pytest.mark.parametrize(
    ("streak", "failed", "limit", "expected"),
    [
        (0, True, 3, (1, "")),
        (1, True, 3, (2, "")),
        # The third failure in a row pauses it: the boundary.
        (2, True, 3, (3, "paused after 3 failed runs in a row (pause_after_failures=3)")),
        (0, True, 1, (1, "paused after 1 failed runs in a row (pause_after_failures=1)")),
        # A run that did not fail ends the streak, however long.
        (2, False, 3, (0, "")),
        (0, False, 3, (0, "")),
        # Lowered below a streak already running: the next failure pauses it.
        (5, True, 2, (6, "paused after 6 failed runs in a row (pause_after_failures=2)")),
    ],
)
def test_failures_in_a_row_pause_at_the_limit(
    streak: int, failed: bool, limit: int, expected: tuple[int, str]
) -> None:
    assert failure_streak(streak, failed, limit) == expected
