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

from .conftest import RecordingExecutor, interval_schedule, make_scheduler

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


def test_a_backfill_ahead_of_the_schedulers_claim_records_each_occurrence_once() -> None:
    """The scheduler was down since DAY: the backfill records three of its due occurrences,
    then the scheduler's claim meets them (the unique constraint) and adds only the fourth."""
    clock = ManualClock(DAY + timedelta(hours=3))
    interval_schedule(
        "down",
        3600,
        start=DAY,
        next_run_at=DAY,
        misfire_grace_time=None,
        max_instances=10,
        kwargs={"tag": "d"},
    )
    assert backfill_job("down", DAY, DAY + timedelta(hours=3)).created == 3
    scheduler = make_scheduler(clock)
    for _ in range(3):
        scheduler.tick()
    rows = Execution.objects.filter(job_id="down").order_by("fire_time")
    assert [(r.fire_time, r.kind, r.status) for r in rows] == [
        (DAY + timedelta(hours=h), kind, ExecutionStatus.SUCCEEDED)
        for h, kind in [
            (0, ExecutionKind.BACKFILL),
            (1, ExecutionKind.BACKFILL),
            (2, ExecutionKind.BACKFILL),
            (3, ExecutionKind.SCHEDULED),
        ]
    ]
    assert jobs.RUNS == [("record", "d")] * 4


def test_pending_backfilled_runs_count_as_live_runs_of_the_schedule() -> None:
    """Like a manual run, a backfilled run waiting or going is a live run: a scheduled
    occurrence due meanwhile meets max_instances (docs/backfill.md)."""
    clock = ManualClock(DAY + timedelta(hours=3))
    interval_schedule("busy", 3600, start=DAY, next_run_at=DAY + timedelta(hours=3))
    backfill_job("busy", DAY, DAY + timedelta(hours=3))
    make_scheduler(clock, RecordingExecutor()).tick()
    due = Execution.objects.get(job_id="busy", fire_time=DAY + timedelta(hours=3))
    assert (due.kind, due.status) == (ExecutionKind.SCHEDULED, ExecutionStatus.SKIPPED)
    assert due.reason.startswith("max_instances reached")


def test_a_leader_that_stalls_after_adopting_a_backfill_hands_it_over_run_once(
    clock: ManualClock,
) -> None:
    """The leader adopts the backfilled rows (its epoch), then stalls past its lease before
    starting them: the next leader adopts them under its epoch and runs each once; the old
    leader's workers then find nothing to start (the fence on the epoch)."""
    from django_schedules.dbclock import DbNow
    from django_schedules.executors import run_execution_now
    from django_schedules.models import SchedulerLease

    interval_schedule("handed", 3600, start=DAY, next_run_at=None, kwargs={"tag": "x"})
    backfill_job("handed", DAY, DAY + timedelta(hours=3))
    old_executor = RecordingExecutor()
    make_scheduler(clock, old_executor).tick()
    assert len(old_executor.submitted) == 3  # handed to its executor, not started
    SchedulerLease.objects.update(expires_at=DbNow() - timedelta(seconds=1))  # stalled
    make_scheduler(clock).tick()  # takes over at epoch 2, adopts and runs them
    for execution_id, old_epoch in old_executor.submitted:
        assert run_execution_now(execution_id, old_epoch) == ""
    assert jobs.RUNS == [("record", "x")] * 3
    statuses = Execution.objects.filter(job_id="handed").values_list("status", "attempt")
    assert set(statuses) == {(ExecutionStatus.SUCCEEDED, 1)}
