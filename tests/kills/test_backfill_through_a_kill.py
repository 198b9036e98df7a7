"""A backfill through a kill (issue 18): the leader is SIGKILLed while it runs a backfill's
executions; the standby takes over, runs what was left pending, and marks lost what was
running in the dead process (or, with ``rerun_lost``, runs it again as its next attempt).
Every occurrence keeps one Execution, none is run twice but a lost attempt's re-run (each run
notes its start in a ledger file), none is left pending or running, and a second backfill of
the range adds and re-runs nothing.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from django_schedules import backfill_job
from django_schedules.models import Execution, Schedule
from django_schedules.triggers import IntervalTrigger
from tests.kills import jobs

from .harness import (
    TTL,
    Figures,
    clean,
    leader_pid,
    lease,
    process_of,
    scale,
    scheduler_process,
    wait_for,
    wait_for_takeover,
)

assert jobs.ledger  # imported to register kills.ledger here too: backfill_job checks it

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DAY = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("rerun_lost", [False, True], ids=["lost", "rerun_lost"])
def test_a_leader_killed_while_running_a_backfill_runs_nothing_twice(
    tmp_path: Path, rerun_lost: bool
) -> None:
    schedules, hours = scale("BACKFILL_SCHEDULES", 5), scale("BACKFILL_HOURS", 24)
    notes = tmp_path / "ledger.txt"
    notes.touch()
    trigger = IntervalTrigger(hours=1, start_date=DAY).to_dict()
    for i in range(schedules):
        Schedule.objects.create(
            job_id=f"backfill-{i}",
            func="kills.ledger",
            kwargs={"path": str(notes), "seconds": 0.2},
            trigger=trigger,
            trigger_kind="interval",
            next_run_at=None,  # the scheduler fires none of it by itself
            rerun_lost=rerun_lost,
        )
    end = DAY + timedelta(hours=hours)
    rows = Execution.objects.filter(job_id__startswith="backfill-")
    figures = Figures(f"leader killed while running a backfill{', rerun_lost' * rerun_lost}")
    with ExitStack() as stack:
        procs = [stack.enter_context(scheduler_process()) for _ in range(2)]
        wait_for(lambda: leader_pid() is not None, 60, "a leader")
        for i in range(schedules):
            assert backfill_job(f"backfill-{i}", DAY, end).created == hours
        wait_for(lambda: rows.filter(status="succeeded").exists(), 60, "the first runs to end")
        epoch = lease().epoch  # type: ignore[union-attr]
        victim = process_of(procs, leader_pid())
        victim.signal(signal.SIGKILL)
        assert victim.process is not None and victim.process.wait(30) == -signal.SIGKILL
        figures.faults += 1
        wait_for_takeover(epoch)
        wait_for(
            lambda: not rows.filter(status__in=["pending", "running"]).exists(),
            120 + 10 * TTL,
            "every backfilled run to end",
        )
        time.sleep(TTL)  # a lost run must stay lost
        survivor = next(p for p in procs if p is not victim)
        assert clean(survivor.output()) == [], survivor.output()
    statuses = Counter(rows.values_list("status", flat=True))
    starts = [line.split() for line in notes.read_text().splitlines()]
    runs = Counter(int(words[1]) for words in starts if words[0] == "start")
    figures.firings = rows.count()
    figures.runs = sum(runs.values())
    # A run started twice: without rerun_lost, never; with it, only a lost attempt's re-run.
    figures.duplicates = sum(1 for n in runs.values() if n > (2 if rerun_lost else 1))
    figures.stuck = statuses["pending"] + statuses["running"]
    figures.lost = schedules * hours - figures.firings  # occurrences with no Execution
    figures.notes = {"statuses": dict(statuses)}
    figures.record()
    figures.assert_clean()
    # The dead leader's thread pool had taken runs it had not started yet (it marks a run
    # running when it takes it): those are lost too, or, with rerun_lost, run again.
    assert set(statuses) <= ({"succeeded"} if rerun_lost else {"succeeded", "lost"}), statuses
    assert statuses["succeeded"] > 0
    once = rows.filter(status="succeeded", attempt=1).values_list("pk", flat=True)
    assert {pk for pk in once if runs[pk] != 1} == set()  # ran once, to its end
    again = rows.filter(attempt=2).values_list("pk", flat=True)
    assert {pk for pk in again if not 1 <= runs[pk] <= 2} == set()
    for i in range(schedules):
        again = backfill_job(f"backfill-{i}", DAY, end)
        assert (again.created, again.retried, again.left_alone) == (0, 0, hours)
