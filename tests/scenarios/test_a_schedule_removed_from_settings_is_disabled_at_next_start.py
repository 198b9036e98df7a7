from __future__ import annotations

import json
from datetime import timedelta

import pytest

from django_schedules.models import Execution, Schedule
from django_schedules.sync import REMOVED_FROM_SETTINGS

from .helpers import clean, fires, scheduler_process, utcnow, wait_for, wait_until_leading


def declared(*job_ids: str) -> str:
    """SCHEDULES_JOBS (as the scenario settings read it) with a 1-second schedule per id."""
    return json.dumps(
        {
            job_id: {
                "func": "scenarios.echo",
                "trigger": "interval",
                "seconds": 1,
                "kwargs": {"word": job_id},
            }
            for job_id in job_ids
        }
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_schedule_removed_from_settings_is_disabled_at_the_next_start_with_its_history() -> None:
    """A schedule removed from ``SCHEDULES_JOBS`` stops at the next start; its history stays.

    celery/django-celery-beat#248 and #654: a task removed from ``CELERY_BEAT_SCHEDULE`` keeps
    running from the database (or its history is deleted with it). Here the scheduler syncs
    the settings when it starts: the first start creates both declared schedules, the next
    start (with one removed) disables the removed one, with a reason and its executions kept,
    before it fires anything.
    """
    with scheduler_process(SCENARIO_JOBS=declared("keep", "drop")) as first:
        wait_until_leading(first)
        assert wait_for(lambda: Schedule.objects.count() == 2, 3, "the declared schedules")
        wait_for(lambda: fires("drop", status="succeeded"), 60, "a run of 'drop'")
        output = first.output()
    history = [e.pk for e in fires("drop")]
    restarted = utcnow()
    with scheduler_process(SCENARIO_JOBS=declared("keep")) as second:
        wait_until_leading(second)
        wait_for(
            lambda: fires("keep", created_at__gte=restarted, status="succeeded"),
            60,
            "'keep' to run after the restart",
        )
        later = utcnow() + timedelta(seconds=1.5)
        wait_for(lambda: utcnow() > later, 10, "a few more beats")
        output += second.output()
    drop = Schedule.objects.get(job_id="drop")
    assert (drop.enabled, drop.last_error) == (False, REMOVED_FROM_SETTINGS)
    assert [e.pk for e in fires("drop")] == history  # kept, and nothing new
    assert Execution.objects.filter(job_id="drop", schedule=drop).count() == len(history)
    assert Schedule.objects.get(job_id="keep").enabled
    assert clean(output) == []
