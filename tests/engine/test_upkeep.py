"""The scheduler's upkeep times out the overdue runs of its executors through the runner's one
timeout authority: the row is marked failed, the run stopped where it can be, the signals sent
once; and the runner's Deadlines says when an in-process run is overdue."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from django_schedules import signals
from django_schedules.clock import ManualClock
from django_schedules.models import Execution, ExecutionStatus
from django_schedules.runner import Deadlines

from .conftest import NOW, RecordingExecutor, interval_schedule, make_scheduler


class StoppingExecutor(RecordingExecutor):
    """Holds its runs as if they were running, and can stop them (as a process pool can)."""

    def __init__(self, *, can_stop: bool) -> None:
        super().__init__()
        self.can_stop = can_stop
        self.stopped: list[int] = []

    def stop_run(self, execution_id: int) -> bool:
        self.stopped.append(execution_id)
        return self.can_stop


def running_row(job_id: str) -> Execution:
    schedule = interval_schedule(job_id, 60, next_run_at=NOW + timedelta(hours=1), timeout=1)
    return Execution.objects.create(
        schedule=schedule,
        job_id=job_id,
        func="engine.record",
        fire_time=NOW,
        status=ExecutionStatus.RUNNING,
        epoch=1,
        worker="here:1",
    )


@pytest.fixture
def heard() -> list[tuple[str, int, str]]:
    seen: list[tuple[str, int, str]] = []

    def finished(sender, execution, **kwargs) -> None:
        seen.append(("finished", execution.pk, execution.status))

    def failed(sender, execution, **kwargs) -> None:
        seen.append(("failed", execution.pk, execution.status))

    signals.execution_finished.connect(finished)
    signals.execution_failed.connect(failed)
    yield seen
    signals.execution_finished.disconnect(finished)
    signals.execution_failed.disconnect(failed)


@pytest.mark.django_db
@pytest.mark.parametrize("can_stop", [True, False])
def test_the_upkeep_times_out_an_overdue_run_through_the_one_authority(
    clock: ManualClock, heard: list[tuple[str, int, str]], caplog, can_stop: bool
) -> None:
    row = running_row("late")
    executor = StoppingExecutor(can_stop=can_stop)
    executor._track(row.pk, 0.0)  # overdue at once
    scheduler = make_scheduler(clock, executor)
    scheduler._housekeeping()
    row.refresh_from_db()
    assert (row.status, row.reason) == (
        ExecutionStatus.FAILED,
        "timeout: still running after 0s",
    )
    assert executor.stopped == [row.pk]
    assert heard == [("finished", row.pk, "failed"), ("failed", row.pk, "failed")]
    fate = "stopped and marked failed" if can_stop else "marked failed (a thread cannot be killed"
    assert f"execution {row.pk} ran past its timeout of 0s; {fate}" in caplog.text
    scheduler._housekeeping()  # reported once: nothing more
    assert executor.stopped == [row.pk] and len(heard) == 2


@pytest.mark.django_db
def test_a_run_that_ended_before_its_time_out_is_not_announced_again(
    clock: ManualClock, heard: list[tuple[str, int, str]]
) -> None:
    row = running_row("ended")
    Execution.objects.filter(pk=row.pk).update(status=ExecutionStatus.SUCCEEDED)
    executor = StoppingExecutor(can_stop=True)
    executor._track(row.pk, 0.0)
    make_scheduler(clock, executor)._housekeeping()
    row.refresh_from_db()
    assert row.status == ExecutionStatus.SUCCEEDED
    assert heard == []


def test_deadlines_report_each_overdue_run_once_and_keep_it_in_hand() -> None:
    deadlines = Deadlines()
    deadlines.add(1, 0.0)
    deadlines.add(2, None)
    deadlines.add(3, 3600.0)
    first = deadlines.earliest()
    assert first is not None and first <= time.monotonic()
    assert deadlines.overdue() == [(1, 0.0)]
    assert deadlines.overdue() == []
    assert sorted(deadlines.ids()) == [1, 2, 3]  # still running until they end
    later = deadlines.earliest()
    assert later is not None and 3500 < later - time.monotonic() <= 3600
    deadlines.discard(3)
    deadlines.discard(3)  # ending twice is harmless
    assert sorted(deadlines.ids()) == [1, 2] and deadlines.earliest() is None
