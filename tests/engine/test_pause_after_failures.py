"""``pause_after_failures=N``: N failed runs in a row pause the schedule with the reason and
send ``schedule_changed`` (action ``"paused_after_failures"``); a run that succeeds ends the
streak; a run timed out or lost counts as failed."""

from __future__ import annotations

import pytest

from django_schedules import api, runner
from django_schedules.clock import ManualClock
from django_schedules.models import Execution, ExecutionStatus, Schedule
from django_schedules.signals import schedule_changed

from .conftest import NOW, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db
REASON = "paused after 2 failed runs in a row (pause_after_failures=2)"


@pytest.fixture
def heard() -> list[str]:
    seen: list[str] = []

    def listener(sender, job_id, action, **kwargs) -> None:
        seen.append(f"{job_id} {action}")

    schedule_changed.connect(listener)
    yield seen
    schedule_changed.disconnect(listener)


def run_ticks(clock: ManualClock, count: int) -> None:
    scheduler = make_scheduler(clock)  # inline: each run starts and ends in tick()
    for _ in range(count):
        scheduler.tick()
        clock.advance(60)


def test_two_failures_in_a_row_pause_it_and_send_the_signal(
    clock: ManualClock, heard: list[str]
) -> None:
    interval_schedule("failing", 60, func="engine.boom", pause_after_failures=2)
    run_ticks(clock, 4)
    row = Schedule.objects.get(job_id="failing")
    assert (row.enabled, row.pause_reason, row.failures_in_a_row) == (False, REASON, 2)
    assert list(Execution.objects.values_list("status", flat=True)) == ["failed", "failed"]
    assert heard == ["failing paused_after_failures"]


def test_a_success_ends_the_streak(clock: ManualClock) -> None:
    interval_schedule("mixed", 60, func="engine.boom", pause_after_failures=2)
    scheduler = make_scheduler(clock)
    scheduler.tick()
    assert Schedule.objects.get(job_id="mixed").failures_in_a_row == 1
    api.modify_job("mixed", func="engine.record", kwargs={"tag": "ok"})  # the cause fixed
    clock.advance(60)
    scheduler.tick()
    row = Schedule.objects.get(job_id="mixed")
    assert (row.enabled, row.failures_in_a_row) == (True, 0)
    assert list(Execution.objects.order_by("fire_time").values_list("status", flat=True)) == [
        "failed",
        "succeeded",
    ]


def test_a_run_timed_out_or_lost_counts_as_failed(clock: ManualClock, heard: list[str]) -> None:
    schedule = interval_schedule("lost", 60, pause_after_failures=1, next_run_at=NOW)
    gone = Execution.objects.create(
        schedule=schedule,
        job_id="lost",
        func="engine.record",
        fire_time=NOW,
        status=ExecutionStatus.LOST,
    )
    runner.announce_failed([gone.pk], "default")
    row = Schedule.objects.get(job_id="lost")
    assert not row.enabled and row.pause_reason.startswith("paused after 1 failed run")
    assert heard == ["lost paused_after_failures"]


def test_resuming_starts_a_new_streak(clock: ManualClock) -> None:
    interval_schedule("again", 60, func="engine.boom", pause_after_failures=2)
    run_ticks(clock, 3)
    assert not Schedule.objects.get(job_id="again").enabled
    api.resume_job("again")
    row = Schedule.objects.get(job_id="again")
    assert (row.enabled, row.failures_in_a_row, row.pause_reason) == (True, 0, "")


def test_a_schedule_without_the_option_never_pauses_itself(clock: ManualClock) -> None:
    interval_schedule("plain", 60, func="engine.boom")
    run_ticks(clock, 3)
    row = Schedule.objects.get(job_id="plain")
    assert (row.enabled, row.failures_in_a_row) == (True, 0)
    assert Execution.objects.filter(status="failed").count() == 3
