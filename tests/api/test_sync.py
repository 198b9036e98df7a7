from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from django_schedules import add_job, pause_job, run_job_now
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import Execution, Schedule, ScheduleSource
from django_schedules.sync import REMOVED_FROM_SETTINGS, declared_errors, sync_schedules
from tests.testapp import jobs

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 1, 15, 7, 0, tzinfo=UTC)
DIGEST = {"func": "tests.testapp.jobs.noop", "trigger": "cron", "hour": 9, "minute": 30}
TICK = {"func": "tests.testapp.jobs.add", "trigger": "interval", "minutes": 10, "args": [1]}


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_it_creates_the_declared_schedules() -> None:
    plan = sync_schedules({"digest": DIGEST, "tick": TICK})
    assert sorted(s.job_id for s in plan.create) == ["digest", "tick"]
    digest = Schedule.objects.get(job_id="digest")
    assert digest.source == ScheduleSource.SETTINGS
    assert digest.next_run_at == datetime(2025, 1, 15, 9, 30, tzinfo=UTC)


def test_a_second_sync_changes_nothing_and_keeps_the_interval_beat() -> None:
    sync_schedules({"digest": DIGEST, "tick": TICK})
    before = {s.job_id: (s.version, s.trigger, s.next_run_at) for s in Schedule.objects.all()}
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        plan = sync_schedules({"digest": DIGEST, "tick": TICK})
    assert not plan.changed and sorted(plan.unchanged) == ["digest", "tick"]
    after = {s.job_id: (s.version, s.trigger, s.next_run_at) for s in Schedule.objects.all()}
    assert after == before


def test_it_updates_what_changed() -> None:
    sync_schedules({"digest": DIGEST, "tick": TICK})
    plan = sync_schedules({"digest": {**DIGEST, "hour": 10}, "tick": {**TICK, "args": [2]}})
    updated = {s.job_id: fields for s, fields in plan.update}
    assert updated == {"digest": ["trigger", "next_run_at"], "tick": ["args"]}
    assert Schedule.objects.get(job_id="digest").next_run_at == datetime(
        2025, 1, 15, 10, 30, tzinfo=UTC
    )
    assert Schedule.objects.get(job_id="tick").args == [2]


def test_it_disables_what_was_removed_and_keeps_its_history() -> None:
    sync_schedules({"digest": DIGEST, "tick": TICK})
    run_job_now("tick")
    plan = sync_schedules({"digest": DIGEST})
    assert [s.job_id for s in plan.disable] == ["tick"]
    tick = Schedule.objects.get(job_id="tick")
    assert not tick.enabled and tick.last_error == REMOVED_FROM_SETTINGS
    assert Execution.objects.filter(schedule=tick).count() == 1
    # Declared again: back on.
    plan = sync_schedules({"digest": DIGEST, "tick": TICK})
    assert [s.job_id for s, _ in plan.update] == ["tick"]
    tick.refresh_from_db()
    assert tick.enabled and tick.last_error == ""


def test_it_leaves_admin_and_code_schedules_alone() -> None:
    add_job(jobs.noop, "interval", hours=1, id="digest", source=ScheduleSource.ADMIN)
    add_job(jobs.noop, "interval", hours=1, id="mine")
    plan = sync_schedules({"digest": DIGEST})
    assert plan.conflicts == ["digest"] and not plan.changed
    assert Schedule.objects.get(job_id="digest").trigger_kind == "interval"
    assert Schedule.objects.get(job_id="mine").enabled


def test_a_schedule_paused_by_staff_stays_paused() -> None:
    sync_schedules({"digest": DIGEST})
    pause_job("digest")
    sync_schedules({"digest": DIGEST})
    assert not Schedule.objects.get(job_id="digest").enabled


def test_a_sync_keeps_a_pause_s_reason_and_end() -> None:
    sync_schedules({"digest": DIGEST})
    until = datetime.now(UTC) + timedelta(days=1)
    pause_job("digest", reason="audit", until=until)
    sync_schedules({"digest": {**DIGEST, "hour": 7}})  # a changed definition is applied
    row = Schedule.objects.get(job_id="digest")
    assert (row.enabled, row.pause_reason, row.paused_until) == (False, "audit", until)


def test_one_bad_entry_writes_nothing(unchanged_db) -> None:
    with pytest.raises(InvalidSchedule, match=r"SCHEDULES_JOBS\['bad'\]: .*'nope' is not regis"):
        sync_schedules({"digest": DIGEST, "bad": {"func": "nope", "trigger": "cron"}})
    unchanged_db()


def test_a_dry_run_writes_nothing(unchanged_db) -> None:
    plan = sync_schedules({"digest": DIGEST}, dry_run=True)
    assert [s.job_id for s in plan.create] == ["digest"]
    unchanged_db()


@pytest.mark.parametrize(
    ("jobs_setting", "message"),
    [
        ([("digest", DIGEST)], "SCHEDULES_JOBS must be a dict, got"),
        ({"": DIGEST}, "the key must be a non-empty string (the job id), got ''"),
        ({"digest": "cron"}, "must be a dict of add_job keyword arguments, got 'cron'"),
        ({"digest": {"trigger": "cron"}}, "'func' is required"),
        ({"digest": {**DIGEST, "id": "x"}}, "'id' may not be given"),
        ({"digest": {**DIGEST, "next_run_time": None}}, "'next_run_time' may not be given"),
        ({"digest": {**DIGEST, "pause_reason": "x"}}, "'pause_reason' may not be given"),
        ({"digest": {**DIGEST, "paused_until": None}}, "'paused_until' may not be given"),
        ({"digest": {**DIGEST, "hour": 24}}, "hour"),
        ({"digest": {**DIGEST, "colour": "red"}}, "colour"),
        ({"digest": {**DIGEST, "args": [1]}}, "too many positional arguments"),
    ],
)
def test_declared_errors_name_the_entry(jobs_setting, message) -> None:
    (error,) = declared_errors(jobs_setting)
    assert message in str(error)


@override_settings(SCHEDULES_JOBS={"digest": DIGEST})
def test_the_command_syncs_the_setting(capsys) -> None:
    call_command("syncschedules", "--dry-run")
    assert "Would create digest" in capsys.readouterr().out
    assert not Schedule.objects.exists()
    call_command("syncschedules")
    out = capsys.readouterr().out
    assert "Created digest" in out and "1 created, 0 updated, 0 disabled" in out
    assert Schedule.objects.get(job_id="digest").source == ScheduleSource.SETTINGS


@override_settings(SCHEDULES_JOBS={"digest": {"func": "nope"}})
def test_the_command_fails_on_a_bad_setting(unchanged_db) -> None:
    with pytest.raises(CommandError, match="SCHEDULES_JOBS is invalid, nothing was written"):
        call_command("syncschedules")
    unchanged_db()
