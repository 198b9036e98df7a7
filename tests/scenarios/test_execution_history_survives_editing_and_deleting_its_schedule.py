from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from django_schedules import add_job, modify_job
from django_schedules.clock import ManualClock
from django_schedules.models import Execution

from .helpers import admin_client, admin_url, drive, manual_scheduler

NOW = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_execution_history_survives_editing_and_deleting_its_schedule() -> None:
    """Each Execution keeps the job id and name its schedule had when it ran.

    jcass77/django-apscheduler#113: removing a job deletes its executions with it (a cascading
    foreign key), so a one-off job's outcome is gone once it ran. Here a schedule runs, is
    renamed and pointed at other arguments, runs again, and is deleted in the admin: all its
    executions stay, each with the name and job id of its own time, and the admin lists them as
    of a deleted schedule.
    """
    with time_machine.travel(NOW, tick=False):
        add_job(
            "scenarios.echo",
            "interval",
            minutes=1,
            id="nightly",
            name="Nightly export",
            kwargs={"word": "v1"},
        )
    clock = ManualClock(NOW)
    scheduler = manual_scheduler(clock)
    drive(scheduler, clock, NOW + timedelta(minutes=1))
    modify_job("nightly", name="Nightly export (v2)", kwargs={"word": "v2"})
    drive(scheduler, clock, NOW + timedelta(minutes=2))
    client = admin_client()
    schedule_pk = Execution.objects.first().schedule_id  # type: ignore[union-attr]
    response = client.post(admin_url("schedule_delete", schedule_pk), {"post": "yes"})
    assert response.status_code == 302
    history = list(Execution.objects.order_by("fire_time"))
    assert [(e.fire_time - NOW, e.job_id, e.name, e.result, e.schedule_id) for e in history] == [
        (timedelta(minutes=1), "nightly", "Nightly export", "'v1'", None),
        (timedelta(minutes=2), "nightly", "Nightly export (v2)", "'v2'", None),
    ]
    page = client.get(admin_url("execution_changelist")).content.decode()
    assert page.count("(deleted)") == 2 and "Nightly export (v2)" in page
    detail = client.get(admin_url("execution_change", history[0].pk)).content.decode()
    assert "Nightly export" in detail and "(deleted)" in detail
