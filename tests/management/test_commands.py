from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import modify_settings, override_settings

from django_schedules import add_job, pause_job, run_job_now
from django_schedules.importers import APSCHEDULER_REFUSAL, celery_days, from_celery_beat
from django_schedules.models import Execution, ExecutionStatus
from tests.testapp import jobs

NOW = datetime(2025, 1, 15, 7, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
@override_settings(TIME_ZONE="Europe/Berlin")
def test_listschedules_prints_a_table(capsys) -> None:
    add_job(jobs.noop, "cron", hour=9, minute=30, timezone="Europe/Berlin", id="digest")
    add_job(jobs.add, "interval", hours=1, args=[1], id="paused")
    pause_job("paused")
    execution = run_job_now("digest")
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.SUCCEEDED)
    call_command("listschedules")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "CALLABLE", "TRIGGER", "NEXT", "RUN", "LAST", "OUTCOME"]
    assert lines[1].startswith("digest  tests.testapp.jobs.noop")
    # Next run in the project's zone (Berlin, UTC+1 in January).
    assert "2025-01-15T09:30:00+01:00" in lines[1]
    assert "succeeded at 2025-01-15T08:00:00+01:00" in lines[1]
    assert lines[2].startswith("paused") and " paused " in lines[2]


@pytest.mark.django_db
def test_listschedules_json_is_for_scripts(capsys) -> None:
    add_job(jobs.noop, "cron", hour=9, minute=30, timezone="UTC", id="digest")
    call_command("listschedules", "--json")
    (row,) = json.loads(capsys.readouterr().out)
    assert row["job_id"] == "digest" and row["registered"] is True
    assert row["next_run_at"] == "2025-01-15T09:30:00+00:00"
    assert row["trigger"]["kind"] == "cron" and row["last_status"] is None


@pytest.mark.django_db
def test_listschedules_marks_an_unregistered_callable(capsys) -> None:
    add_job(jobs.noop, "interval", hours=1, id="x")
    from django_schedules.models import Schedule

    Schedule.objects.filter(job_id="x").update(func="gone.job")
    call_command("listschedules")
    assert "gone.job (not registered)" in capsys.readouterr().out


@pytest.mark.django_db
def test_listschedules_with_nothing(capsys) -> None:
    call_command("listschedules")
    assert capsys.readouterr().out.strip() == "No schedules."


@pytest.mark.parametrize(
    ("peer", "app"),
    [("django-celery-beat", "django_celery_beat"), ("django-apscheduler", "django_apscheduler")],
)
def test_importschedules_says_when_the_peer_app_is_not_installed(peer, app) -> None:
    # The test settings install django-celery-beat where it supports the Django version.
    missing = f"{peer} is not installed \\('{app}' is not in"
    with (
        modify_settings(INSTALLED_APPS={"remove": [app]}),
        pytest.raises(CommandError, match=missing),
    ):
        call_command("importschedules", "--from", peer)


def test_importschedules_needs_a_known_peer() -> None:
    with pytest.raises(CommandError, match="invalid choice: 'cron'"):
        call_command("importschedules", "--from", "cron")


def test_the_apscheduler_refusal_says_why() -> None:
    assert "pickled" in APSCHEDULER_REFUSAL and "arbitrary code" in APSCHEDULER_REFUSAL


@pytest.mark.parametrize(
    ("celery", "ours"),
    [
        ("*", "*"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("sat,sun", "sun,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("fri-mon", "sun,mon,fri,sat"),
        ("mon-wed/2", "mon,wed"),
    ],
)
def test_celery_days_are_carried_over_by_name(celery: str, ours: str) -> None:
    # Celery counts 0 as Sunday (as crontab); our cron trigger counts 0 as Monday.
    assert celery_days(celery) == ours


@pytest.mark.parametrize("bad", ["8", "funday", "1-5/0"])
def test_a_bad_celery_day_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="day_of_week"):
        celery_days(bad)


def periodic_task(**fields):
    defaults = {
        "name": "nightly",
        "task": "tests.testapp.jobs.add",
        "args": "[1, 2]",
        "kwargs": "{}",
        "interval": None,
        "crontab": None,
        "solar": None,
        "clocked": None,
        "one_off": False,
        "start_time": None,
        "expires": None,
        "enabled": True,
        "queue": None,
        "exchange": None,
        "routing_key": None,
        "priority": None,
        "expire_seconds": None,
        "headers": "{}",
    }
    return SimpleNamespace(**{**defaults, **fields})


def test_a_celery_crontab_becomes_a_cron_trigger() -> None:
    crontab = SimpleNamespace(
        minute="30",
        hour="2",
        day_of_week="1-5",
        day_of_month="*",
        month_of_year="*",
        timezone="Europe/Paris",
    )
    item = from_celery_beat(periodic_task(crontab=crontab, queue="low", enabled=False))
    assert item.error is None
    assert item.add_job_kwargs == {
        "func": "tests.testapp.jobs.add",
        "name": "nightly",
        "args": [1, 2],
        "kwargs": {},
        "trigger": "cron",
        "minute": "30",
        "hour": "2",
        "day": "*",
        "month": "*",
        "day_of_week": "mon,tue,wed,thu,fri",
        "timezone": "Europe/Paris",
        "enabled": False,
    }
    assert any("queue='low' is not carried over" in note for note in item.notes)


def test_a_celery_interval_becomes_an_interval_trigger() -> None:
    item = from_celery_beat(
        periodic_task(interval=SimpleNamespace(every=15, period="minutes"), expires=NOW)
    )
    assert item.add_job_kwargs is not None
    assert (item.add_job_kwargs["trigger"], item.add_job_kwargs["minutes"]) == ("interval", 15)
    assert item.add_job_kwargs["end_date"] == NOW


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"task": "proj.tasks.unknown"}, "its task 'proj.tasks.unknown' is not a registered job"),
        ({"solar": SimpleNamespace(event="sunset", latitude=1, longitude=2)}, "solar schedules"),
        ({}, "it has no schedule"),
        ({"args": "[1,", "clocked": SimpleNamespace(clocked_time=NOW)}, "args is not valid JSON"),
        (
            {"one_off": True, "interval": SimpleNamespace(every=1, period="days")},
            "one_off with a repeating schedule",
        ),
        ({"interval": SimpleNamespace(every=5, period="microseconds")}, "'microseconds'"),
    ],
)
def test_what_cannot_be_carried_over_says_why(fields, error) -> None:
    item = from_celery_beat(periodic_task(**fields))
    assert item.error is not None and error in item.error


@pytest.mark.django_db
def test_the_import_is_a_dry_run_unless_committed(capsys) -> None:
    from django_schedules.management.commands.importschedules import Command
    from django_schedules.models import Schedule, ScheduleSource

    crontab = SimpleNamespace(
        minute="0", hour="3", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    rows = [
        periodic_task(crontab=crontab, queue="low"),
        periodic_task(name="broken", task="proj.tasks.gone"),
        periodic_task(name="bad args", args="[]", interval=SimpleNamespace(every=1, period="days")),
    ]
    command = Command()
    command._import([from_celery_beat(row) for row in rows], commit=False)
    out, err = capsys.readouterr()
    assert "Would create nightly from PeriodicTask 'nightly'" in out
    assert "note: queue='low' is not carried over" in out
    assert "1 to create, 2 not importable (dry run: pass --commit to write)" in out
    assert "Cannot import PeriodicTask 'broken': its task 'proj.tasks.gone'" in err
    assert "Cannot import PeriodicTask 'bad args': " in err and "missing a required" in err
    assert not Schedule.objects.exists()
    command._import([from_celery_beat(row) for row in rows], commit=True)
    nightly = Schedule.objects.get(job_id="nightly")
    assert nightly.source == ScheduleSource.ADMIN and nightly.args == [1, 2]
    assert nightly.next_run_at == datetime(2025, 1, 16, 3, 0, tzinfo=UTC)
    command._import([from_celery_beat(rows[0])], commit=True)
    assert "a schedule with job id 'nightly' already exists" in capsys.readouterr().err
