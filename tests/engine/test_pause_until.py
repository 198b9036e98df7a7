"""A pause with an end (``pause_job(..., until=...)``) ends by itself: the leader's upkeep
resumes the schedule exactly once, from its first occurrence at or after the end, and that
occurrence runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_schedules import api, store
from django_schedules.clock import ManualClock
from django_schedules.models import Execution, Schedule
from django_schedules.signals import schedule_changed

from .conftest import NOW, RecordingExecutor, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)


def paused(job_id: str, until_minutes: int = 5) -> Schedule:
    return interval_schedule(
        job_id,
        60,
        enabled=False,
        pause_reason="maintenance",
        paused_until=NOW + until_minutes * MIN,
    )


@pytest.fixture
def resumed() -> list[str]:
    heard: list[str] = []

    def listener(sender, job_id, action, **kwargs) -> None:
        heard.append(f"{job_id} {action}")

    schedule_changed.connect(listener)
    yield heard
    schedule_changed.disconnect(listener)


def test_the_leader_resumes_a_pause_at_its_end_and_runs_the_occurrence_there(
    clock: ManualClock, resumed: list[str]
) -> None:
    paused("nightly")
    executor = RecordingExecutor()
    scheduler = make_scheduler(clock, executor)
    scheduler.tick()
    assert not Schedule.objects.get(job_id="nightly").enabled  # its end has not come
    assert Execution.objects.count() == 0

    clock.advance(5 * 60 + 2)  # the upkeep runs a little after the end
    scheduler._housekeeping_at = 0.0
    scheduler.tick()
    row = Schedule.objects.get(job_id="nightly")
    assert row.enabled and row.pause_reason == "" and row.paused_until is None
    # The occurrence at the end ran (2 s late, within the grace time); none before it.
    fires = list(Execution.objects.values_list("fire_time", flat=True))
    assert fires == [NOW + 5 * MIN]
    assert len(executor.submitted) == 1
    assert row.next_run_at == NOW + 6 * MIN
    assert resumed == ["nightly resumed"]

    scheduler._housekeeping_at = 0.0
    scheduler.tick()  # nothing more to resume
    assert resumed == ["nightly resumed"]


def test_a_pause_ends_once_when_two_read_it(clock: ManualClock) -> None:
    paused("once")
    first = store.expired_pauses(NOW + 10 * MIN, 10, "default")
    second = store.expired_pauses(NOW + 10 * MIN, 10, "default")
    assert [p.job_id for p in first] == [p.job_id for p in second] == ["once"]
    assert store.end_pause(first[0], NOW + 10 * MIN, NOW + 10 * MIN, "default") is True
    assert store.end_pause(second[0], NOW + 11 * MIN, NOW + 10 * MIN, "default") is False
    assert Schedule.objects.get(job_id="once").next_run_at == NOW + 10 * MIN


def test_a_pause_renewed_by_an_operator_meanwhile_is_not_ended(clock: ManualClock) -> None:
    paused("renewed")
    (pause,) = store.expired_pauses(NOW + 10 * MIN, 10, "default")
    api.pause_job("renewed", reason="longer", until=NOW + 60 * MIN)  # after the read
    assert store.end_pause(pause, NOW + 10 * MIN, NOW + 10 * MIN, "default") is False
    row = Schedule.objects.get(job_id="renewed")
    assert (row.enabled, row.pause_reason) == (False, "longer")


def test_a_pause_without_an_end_and_one_still_running_stay_paused(clock: ManualClock) -> None:
    interval_schedule("open", 60, enabled=False, pause_reason="until told")
    paused("later", until_minutes=30)
    assert store.expired_pauses(NOW + 10 * MIN, 10, "default") == []
    scheduler = make_scheduler(clock, RecordingExecutor())
    clock.advance(10 * 60)
    scheduler.tick()
    assert not Schedule.objects.filter(enabled=True).exists()


def test_a_standby_resumes_nothing(clock: ManualClock) -> None:
    paused("standby")
    leader = make_scheduler(clock, RecordingExecutor())
    leader.tick()
    standby = make_scheduler(clock, RecordingExecutor())
    clock.advance(6 * 60)
    standby.tick()  # cannot take the lease the leader holds
    assert not Schedule.objects.get(job_id="standby").enabled
