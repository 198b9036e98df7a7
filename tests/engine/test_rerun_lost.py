"""rerun_lost: a lost execution of such a schedule runs again as its next attempt."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_schedules.clock import ManualClock
from django_schedules.dbclock import DbNow
from django_schedules.models import Execution, ExecutionStatus
from tests.engine import jobs

from .conftest import NOW, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db


def stale_run(job_id: str, **fields) -> Execution:
    schedule = interval_schedule(job_id, 60, next_run_at=NOW + timedelta(hours=1), **fields)
    row = Execution.objects.create(
        schedule=schedule,
        job_id=job_id,
        func="engine.record",
        fire_time=NOW - timedelta(minutes=10),
        status=ExecutionStatus.RUNNING,
        epoch=1,
        worker="gone:1",
    )
    Execution.objects.filter(pk=row.pk).update(heartbeat_at=DbNow() - timedelta(minutes=5))
    return row


def expire(row: Execution) -> None:
    Execution.objects.filter(pk=row.pk).update(
        status=ExecutionStatus.RUNNING, heartbeat_at=DbNow() - timedelta(minutes=5)
    )


def test_a_lost_run_of_a_rerun_lost_schedule_runs_again_as_its_next_attempt(
    clock: ManualClock,
) -> None:
    row = stale_run("again", rerun_lost=True)
    scheduler = make_scheduler(clock)
    # Its upkeep finds it lost and puts it back to pending (attempt 2, no epoch); the
    # probe of the same tick sees a pending run with no epoch: adopted and run.
    scheduler.tick()
    row.refresh_from_db()
    assert row.status == ExecutionStatus.SUCCEEDED and row.attempt == 2
    assert len(jobs.RUNS) == 1
    assert Execution.objects.filter(job_id="again").count() == 1  # the same Execution


def test_re_runs_are_bounded_by_max_retries(clock: ManualClock) -> None:
    row = stale_run("bounded", rerun_lost=True, max_retries=2)
    scheduler = make_scheduler(clock, lease_ttl=3)
    assert scheduler.lease.acquire()
    for attempt in (2, 3):
        clock.advance(3)
        scheduler._lost_check_at = 0.0
        scheduler._housekeeping_at = 0.0
        scheduler._housekeeping()
        row.refresh_from_db()
        assert (row.status, row.attempt) == (ExecutionStatus.PENDING, attempt)
        expire(row)
    scheduler._lost_check_at = scheduler._housekeeping_at = 0.0
    scheduler._housekeeping()
    row.refresh_from_db()
    assert (row.status, row.attempt) == (ExecutionStatus.LOST, 3)


def test_without_rerun_lost_it_stays_lost(clock: ManualClock) -> None:
    row = stale_run("stays")
    make_scheduler(clock).tick()
    row.refresh_from_db()
    assert row.status == ExecutionStatus.LOST and row.attempt == 1
