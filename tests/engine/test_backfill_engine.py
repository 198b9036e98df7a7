"""A real scheduler runs a backfill's executions exactly once (issue 18): the leader adopts the
new rows and the re-runs as it adopts a manual run, runs each once, and neither a later pass
nor a second backfill of the range runs anything again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from django_schedules import backfill_job
from django_schedules.clock import ManualClock
from django_schedules.models import Execution, ExecutionKind, ExecutionStatus, Schedule
from tests.engine import jobs

from .conftest import interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db(transaction=True)

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_scheduler_runs_each_backfilled_occurrence_once(clock: ManualClock) -> None:
    schedule = interval_schedule(
        "nightly", 3600, start=DAY, next_run_at=None, kwargs={"tag": "backfilled"}
    )
    # The scheduler was down: the first occurrence was recorded missed, the second ran.
    for hour, status in ((0, ExecutionStatus.MISSED), (1, ExecutionStatus.SUCCEEDED)):
        fire = DAY + timedelta(hours=hour)
        Execution.objects.create(
            schedule=schedule,
            job_id="nightly",
            func="engine.record",
            kwargs={"tag": "backfilled"},
            fire_time=fire,
            run_at=fire,
            status=status,
            finished_at=fire,
        )
    result = backfill_job("nightly", DAY, DAY + timedelta(hours=4))
    assert (result.created, result.retried, result.left_alone) == (2, 1, 1)

    scheduler = make_scheduler(clock)
    for _ in range(3):  # later passes find nothing more to run
        scheduler.tick()
        clock.advance(1)

    assert jobs.RUNS == [("record", "backfilled")] * 3
    rows = Execution.objects.filter(job_id="nightly").order_by("fire_time")
    assert [(r.status, r.attempt, r.kind) for r in rows] == [
        (ExecutionStatus.SUCCEEDED, 2, ExecutionKind.BACKFILL),  # the missed one, run again
        (ExecutionStatus.SUCCEEDED, 1, ExecutionKind.SCHEDULED),  # ran: left alone
        (ExecutionStatus.SUCCEEDED, 1, ExecutionKind.BACKFILL),
        (ExecutionStatus.SUCCEEDED, 1, ExecutionKind.BACKFILL),
    ]

    again = backfill_job("nightly", DAY, DAY + timedelta(hours=4))
    assert (again.created, again.retried, again.left_alone) == (0, 0, 4)
    scheduler.tick()
    assert len(jobs.RUNS) == 3


def test_runscheduler_once_runs_a_backfill() -> None:
    interval_schedule("hourly", 3600, start=DAY, next_run_at=None, kwargs={"tag": "h"})
    backfill_job("hourly", DAY, DAY + timedelta(hours=3))
    call_command("runscheduler", "--once")
    assert jobs.RUNS == [("record", "h")] * 3
    statuses = Execution.objects.filter(job_id="hourly").values_list("status", flat=True)
    assert list(statuses) == [ExecutionStatus.SUCCEEDED] * 3


def test_a_backfill_is_not_counted_by_the_run_limit(clock: ManualClock) -> None:
    """Like run_job_now, a backfill is an operator's act: the run limit neither counts nor
    refuses it (docs/backfill.md)."""
    interval_schedule(
        "limited", 3600, start=DAY, next_run_at=None, max_runs=1, runs_started=1, enabled=False
    )
    backfill_job("limited", DAY, DAY + timedelta(hours=2))
    make_scheduler(clock).tick()
    assert len(jobs.RUNS) == 2
    rows = Execution.objects.filter(job_id="limited")
    assert {(r.status, r.run_number) for r in rows} == {(ExecutionStatus.SUCCEEDED, None)}
    assert Schedule.objects.get(job_id="limited").runs_started == 1
