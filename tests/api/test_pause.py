"""Pause with a reason and an end, resume from now or catching up: ``pause_job``,
``resume_job``, ``modify_job`` and ``add_job``. Bad values are refused naming the field and
the value, and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from django_schedules import api
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import Schedule
from django_schedules.signals import schedule_changed
from tests.testapp import jobs

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def hourly() -> Schedule:
    with time_machine.travel(NOW, tick=False):
        return api.add_job(jobs.noop, "interval", hours=1, start_date=NOW + HOUR, id="hourly")


def row() -> Schedule:
    return Schedule.objects.get(job_id="hourly")


def test_a_pause_keeps_its_reason_and_end(hourly: Schedule) -> None:
    with time_machine.travel(NOW, tick=False):
        api.pause_job("hourly", reason="database migration", until="2026-06-01T18:00:00+02:00")
    paused = row()
    assert not paused.enabled
    assert paused.pause_reason == "database migration"
    assert paused.paused_until == datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def test_a_naive_end_is_in_the_project_s_time_zone(hourly: Schedule, settings) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(NOW, tick=False):
        api.pause_job("hourly", until=datetime(2026, 6, 1, 18, 0))
    assert row().paused_until == datetime(2026, 6, 1, 16, 0, tzinfo=UTC)


def test_pausing_again_sets_a_new_reason_and_end(hourly: Schedule) -> None:
    with time_machine.travel(NOW, tick=False):
        api.pause_job("hourly", reason="first", until=NOW + HOUR)
        api.pause_job("hourly", reason="second")
    assert (row().pause_reason, row().paused_until) == ("second", None)


@pytest.mark.parametrize(
    ("kwargs", "field", "shown"),
    [
        ({"reason": 42}, "pause_reason", "42"),
        ({"reason": "x" * 501}, "pause_reason", "at most 500 characters, got 501"),
        ({"reason": "a\x00b"}, "pause_reason", "NUL"),
        ({"until": "tomorrow"}, "paused_until", "'tomorrow'"),
        ({"until": 1700000000}, "paused_until", "1700000000"),
        # The boundary first: an end at now is not later than now.
        ({"until": NOW}, "paused_until", "got 2026-06-01T12:00:00+00:00"),
        ({"until": NOW - HOUR}, "paused_until", "got 2026-06-01T11:00:00+00:00"),
    ],
)
def test_a_bad_reason_or_end_is_refused_naming_it_and_nothing_is_written(
    hourly: Schedule, kwargs: dict[str, object], field: str, shown: str
) -> None:
    before = row()
    with time_machine.travel(NOW, tick=False), pytest.raises(InvalidSchedule) as caught:
        api.pause_job("hourly", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert field in str(caught.value) and shown in str(caught.value)
    after = row()
    assert (after.enabled, after.version, after.pause_reason) == (True, before.version, "")


def test_resuming_clears_the_reason_and_end_and_starts_from_now(hourly: Schedule) -> None:
    with time_machine.travel(NOW, tick=False):
        api.pause_job("hourly", reason="maintenance", until=NOW + 10 * HOUR)
    with time_machine.travel(NOW + 5 * HOUR + timedelta(minutes=30), tick=False):
        api.resume_job("hourly")
    resumed = row()
    assert resumed.enabled and resumed.pause_reason == "" and resumed.paused_until is None
    assert resumed.next_run_at == NOW + 6 * HOUR  # the next occurrence after now


def test_resuming_with_catch_up_starts_where_it_stopped(hourly: Schedule) -> None:
    with time_machine.travel(NOW, tick=False):
        api.pause_job("hourly", reason="maintenance")
    with time_machine.travel(NOW + 5 * HOUR + timedelta(minutes=30), tick=False):
        api.resume_job("hourly", catch_up=True)
    resumed = row()
    assert resumed.enabled and resumed.pause_reason == ""
    # Its next run is still the one it paused before: the claim's misfire policy decides.
    assert resumed.next_run_at == NOW + HOUR


def test_a_catch_up_that_is_not_a_boolean_is_refused(hourly: Schedule) -> None:
    api.pause_job("hourly")
    with pytest.raises(InvalidSchedule, match=r"catch_up must be True or False, got 'yes'"):
        api.resume_job("hourly", catch_up="yes")  # type: ignore[arg-type]
    assert not row().enabled


def test_modify_job_resuming_clears_the_pause_and_refuses_a_reason_with_enabled(
    hourly: Schedule,
) -> None:
    with time_machine.travel(NOW, tick=False):
        api.pause_job("hourly", reason="why", until=NOW + HOUR)
        with pytest.raises(InvalidSchedule) as caught:
            api.modify_job("hourly", enabled=True, pause_reason="still why")
        assert caught.value.field == "pause_reason" and "'still why'" in str(caught.value)
        assert row().pause_reason == "why"
        api.modify_job("hourly", pause_reason="a better why")  # a paused one's reason changes
        assert row().pause_reason == "a better why"
        api.modify_job("hourly", enabled=True)
    assert (row().enabled, row().pause_reason, row().paused_until) == (True, "", None)


def test_add_job_can_add_a_schedule_paused_with_a_reason() -> None:
    with time_machine.travel(NOW, tick=False):
        added = api.add_job(
            jobs.noop,
            "interval",
            hours=1,
            id="later",
            enabled=False,
            pause_reason="waiting for the data feed",
            paused_until=NOW + 24 * HOUR,
        )
    assert not added.enabled and added.pause_reason == "waiting for the data feed"
    with pytest.raises(InvalidSchedule) as caught:
        api.add_job(jobs.noop, "interval", hours=1, id="on", pause_reason="why")
    assert caught.value.field == "pause_reason"
    assert not Schedule.objects.filter(job_id="on").exists()


def test_pause_and_resume_send_their_signals(
    hourly: Schedule, django_capture_on_commit_callbacks
) -> None:
    heard: list[str] = []

    def listener(sender, action, **kwargs) -> None:
        heard.append(action)

    schedule_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            api.pause_job("hourly", reason="why")
            api.resume_job("hourly")
            api.resume_job("hourly")  # not paused: nothing changes, nothing sent
    finally:
        schedule_changed.disconnect(listener)
    assert heard == ["paused", "resumed"]
