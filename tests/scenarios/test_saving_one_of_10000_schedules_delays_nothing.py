from __future__ import annotations

import time
from datetime import timedelta

import pytest

from django_schedules import add_job
from django_schedules.models import Execution, Schedule, ScheduleSource
from django_schedules.triggers import IntervalTrigger

from .helpers import (
    POLL,
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

ROWS = 10_000


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_saving_one_of_10000_schedules_in_the_admin_stalls_nothing_and_applies_at_once() -> None:
    """With 10,000 schedules, an admin save neither stalls the scheduler nor delays others.

    celery/django-celery-beat#454 and #445: with thousands of periodic tasks, every save
    makes beat reload the whole table, stalling every schedule for seconds. Here a save
    touches one row and wakes the scheduler: a 1-second canary keeps its beat through the
    save, and the edited schedule fires at its new time, picked up within a poll interval.
    """
    tomorrow = utcnow().replace(microsecond=0) + timedelta(days=1)
    trigger = IntervalTrigger(days=1, start_date=tomorrow).to_dict()
    Schedule.objects.bulk_create(
        (
            Schedule(
                job_id=f"tenant-{i:05d}",
                func="scenarios.echo",
                trigger=trigger,
                trigger_kind="interval",
                next_run_at=tomorrow,
                source=ScheduleSource.ADMIN,
            )
            for i in range(ROWS)
        ),
        batch_size=1000,
    )
    client = admin_client()
    with scheduler_process() as proc:
        wait_until_leading(proc)
        # The canary starts once the scheduler leads: its beat measures the save, not how long
        # a loaded machine takes to boot Django (set before, its first beats waited for that).
        start = utcnow().replace(microsecond=0) + timedelta(seconds=2)
        # max_instances=3: a run slowed by a loaded machine must not turn a beat into a skip.
        add_job(
            "scenarios.echo", "interval", seconds=1, start_date=start, id="canary", max_instances=3
        )
        wait_for(lambda: len(fires("canary", status="succeeded")) >= 2, 60, "the canary")
        edited = Schedule.objects.get(job_id="tenant-04242")
        assert client.get(admin_url("schedule_change", edited.pk)).status_code == 200
        new_time = utcnow().replace(microsecond=0) + timedelta(seconds=2)
        form = schedule_form(
            edited.job_id,
            "scenarios.echo",
            {"word": "edited"},
            trigger_kind="interval",
            interval_hours="1",
            start_date=new_time,
        )
        began = time.monotonic()
        response = client.post(admin_url("schedule_change", edited.pk), form)
        took = time.monotonic() - began
        assert response.status_code == 302, response.content.decode()[:3000]
        wait_for(lambda: fires(edited.job_id, status="succeeded"), 60, "the edited schedule")
        after = utcnow() + timedelta(seconds=2)
        wait_for(lambda: utcnow() > after, 10, "two more canary beats")
        output = proc.output()
        stopped = utcnow()
    assert took < 5.0, took  # one row written, whatever the table's size
    (run,) = fires(edited.job_id)
    assert (run.fire_time, run.result) == (new_time, "'edited'")
    picked_up = (run.started_at - run.fire_time).total_seconds()  # type: ignore[operator]
    assert picked_up < POLL + 1.0, picked_up
    canary = fires("canary", fire_time__lt=stopped - timedelta(seconds=0.5))
    beats = [e.fire_time for e in canary]
    assert beats == [start + timedelta(seconds=k) for k in range(len(beats))]
    assert {(e.kind, e.status) for e in canary} <= {("scheduled", "succeeded")}
    late = [(e.started_at - e.fire_time).total_seconds() for e in canary if e.started_at]
    assert max(late) < 1.5, late  # generous: the target is milliseconds (benchmarks/)
    assert Execution.objects.exclude(job_id__in=["canary", edited.job_id]).count() == 0
    assert clean(output) == []
