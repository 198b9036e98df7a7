"""importschedules --from django-celery-beat against the peer's own models and tables."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command

from django_schedules.models import Schedule, ScheduleSource
from django_schedules.triggers import trigger_from_dict

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not getattr(settings, "HAS_CELERY_BEAT", False),
        reason="django-celery-beat is not installed (it supports Django < 6.1)",
    ),
]

NOW = datetime(2025, 1, 15, 7, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def beat_rows() -> None:
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    weekdays = CrontabSchedule.objects.create(
        minute="30", hour="2", day_of_week="1-5", timezone=ZoneInfo("Europe/Paris")
    )
    PeriodicTask.objects.create(
        name="nightly", task="tests.testapp.jobs.add", crontab=weekdays, args="[1, 2]", queue="low"
    )
    every_15 = IntervalSchedule.objects.create(every=15, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.create(
        name="quarterly-hour", task="tests.testapp.jobs.noop", interval=every_15, enabled=False
    )
    once = ClockedSchedule.objects.create(clocked_time=datetime(2025, 2, 1, 12, 0, tzinfo=UTC))
    PeriodicTask.objects.create(
        name="launch", task="tests.testapp.jobs.noop", clocked=once, one_off=True
    )
    sunset = SolarSchedule.objects.create(event="sunset", latitude=48.85, longitude=2.35)
    PeriodicTask.objects.create(name="lights", task="tests.testapp.jobs.noop", solar=sunset)
    PeriodicTask.objects.create(name="gone", task="proj.tasks.gone", interval=every_15)


@pytest.mark.usefixtures("beat_rows")
def test_a_dry_run_reports_each_periodic_task_and_writes_nothing(capsys) -> None:
    call_command("importschedules", "--from", "django-celery-beat")
    out, err = capsys.readouterr()
    assert "Would create nightly from PeriodicTask 'nightly'" in out
    assert "note: queue='low' is not carried over" in out
    assert "Would create quarterly-hour" in out and "imported paused" in out
    assert "Would create launch" in out
    assert "Cannot import PeriodicTask 'lights': solar schedules (sunset" in err
    assert "Cannot import PeriodicTask 'gone': its task 'proj.tasks.gone'" in err
    assert "3 to create, 2 not importable (dry run: pass --commit to write)" in out
    assert not Schedule.objects.exists()


@pytest.mark.usefixtures("beat_rows")
def test_commit_creates_equivalent_schedules_once(capsys) -> None:
    call_command("importschedules", "--from", "django-celery-beat", "--commit")
    assert "3 created, 2 not importable" in capsys.readouterr().out
    nightly = Schedule.objects.get(job_id="nightly")
    trigger = trigger_from_dict(nightly.trigger)
    assert trigger.timezone == ZoneInfo("Europe/Paris")
    assert (nightly.func, nightly.args, nightly.source) == (
        "tests.testapp.jobs.add",
        [1, 2],
        ScheduleSource.ADMIN,
    )
    # Celery's 1-5 is Monday to Friday: Thursday 16 January, 02:30 in Paris (UTC+1).
    assert nightly.next_run_at == datetime(2025, 1, 16, 1, 30, tzinfo=UTC)
    # Saturday 02:30 Paris is skipped: the week's fire times are the weekdays only.
    fires = trigger.fire_times(NOW, 5)
    assert [fire.strftime("%a") for fire in fires] == ["Thu", "Fri", "Mon", "Tue", "Wed"]
    paused = Schedule.objects.get(job_id="quarterly-hour")
    assert paused.enabled is False and paused.trigger["kind"] == "interval"
    launch = Schedule.objects.get(job_id="launch")
    assert launch.next_run_at == datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
    assert not Schedule.objects.filter(job_id__in=["lights", "gone"]).exists()

    call_command("importschedules", "--from", "django-celery-beat", "--commit")
    out, err = capsys.readouterr()
    assert "0 created, 5 not importable" in out
    assert "a schedule with job id 'nightly' already exists" in err
    assert Schedule.objects.count() == 3
