from __future__ import annotations

from datetime import timedelta

import pytest

from django_schedules.models import Execution, Schedule

from .helpers import (
    admin_client,
    admin_url,
    clean,
    fires,
    schedule_form,
    scheduler_process,
    utcnow,
    wait_for,
    wait_until_leading,
)

INTERVAL = 3


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_editing_a_schedule_in_the_admin_while_it_runs_causes_no_extra_run() -> None:
    """Saving a schedule in the admin while one of its runs is in progress adds no run.

    celery/django-celery-beat#558: saving a periodic task in the admin while it runs makes
    beat run it again at once. Here a 3-second schedule whose job takes 1.5 s is edited in
    the admin (name and arguments) during its first run; the runs stay on the beat: one per
    occurrence, none at the moment of the edit, and the later ones use the new arguments.
    """
    client = admin_client()
    with scheduler_process() as proc:
        # The schedule starts 2 s after the scheduler leads: its start-up (1.6 to 2.9 s on a
        # loaded machine) must not make the first run late enough to overlap the second.
        wait_until_leading(proc)
        start = utcnow().replace(microsecond=0) + timedelta(seconds=2)
        timing = {
            "trigger_kind": "interval",
            "interval_seconds": str(INTERVAL),
            "start_date": start,
        }
        form = schedule_form("report", "scenarios.sleep", {"seconds": 1.5}, **timing)
        response = client.post(admin_url("schedule_add"), form)
        assert response.status_code == 302, response.content.decode()[:3000]
        wait_for(lambda: Execution.objects.filter(status="running").exists(), 60, "a running run")
        schedule = Schedule.objects.get(job_id="report")
        edited = {**form, "name": "Weekly report", "kwargs": '{"seconds": 1.2}'}
        response = client.post(admin_url("schedule_change", schedule.pk), edited)
        assert response.status_code == 302, response.content.decode()[:3000]
        assert Execution.objects.get(job_id="report").status == "running"  # still in progress
        last = start + timedelta(seconds=2 * INTERVAL)
        wait_for(
            lambda: Execution.objects.filter(fire_time=last, status="succeeded").exists(),
            60,
            "the third run",
        )
        output = proc.output()
    runs = fires("report")
    assert [e.fire_time for e in runs] == [
        start + timedelta(seconds=INTERVAL * k) for k in range(3)
    ]
    assert {(e.kind, e.status) for e in runs} == {("scheduled", "succeeded")}
    assert [(e.name, e.result) for e in runs] == [
        ("report", "'slept 1.5s'"),
        ("Weekly report", "'slept 1.2s'"),
        ("Weekly report", "'slept 1.2s'"),
    ]
    assert clean(output) == []
