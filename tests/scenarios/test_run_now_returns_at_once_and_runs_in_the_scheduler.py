from __future__ import annotations

import os
import time

import pytest

from django_schedules import add_job
from django_schedules.models import Execution

from .helpers import (
    admin_client,
    admin_url,
    clean,
    scheduler_process,
    wait_for,
    wait_until_leading,
)

JOB_SECONDS = 2.0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_now_returns_at_once_and_the_scheduler_runs_the_job() -> None:
    """The admin's "Run now" returns at once; the job runs in the scheduler's executor.

    jcass77/django-apscheduler#174 (and #132): its "Run selected django jobs" admin action runs
    the job inside the HTTP request and gives up after ``APSCHEDULER_RUN_NOW_TIMEOUT`` (15 s).
    Here the button records a pending manual execution and wakes the scheduler: a job that takes
    2 seconds is answered in well under that, runs in the scheduler process (its worker is that
    process), and its outcome appears in the admin's execution list.
    """
    schedule = add_job(
        "scenarios.sleep", "cron", hour=3, id="rebuild-index", kwargs={"seconds": JOB_SECONDS}
    )
    client = admin_client()
    with scheduler_process() as proc:
        wait_until_leading(proc)
        began = time.monotonic()
        response = client.post(admin_url("schedule_run", schedule.pk))
        answered = time.monotonic() - began
        assert response.status_code == 302
        execution = Execution.objects.get(job_id="rebuild-index")
        assert (execution.kind, execution.status) == ("manual", "pending")
        wait_for(
            lambda: Execution.objects.filter(pk=execution.pk, status="succeeded").exists(),
            60,
            "the manual run to finish",
        )
        pid = proc.process.pid  # type: ignore[union-attr]
        output = proc.output()
    assert answered < JOB_SECONDS / 2, answered  # the request did not wait for the job
    execution.refresh_from_db()
    assert f":{pid}:" in execution.worker and f":{os.getpid()}:" not in execution.worker
    assert execution.result == "'slept 2s'"
    started = (execution.started_at - execution.created_at).total_seconds()  # type: ignore[operator]
    assert started < 2.0, started  # picked up at once, not at the next occurrence
    listing = client.get(admin_url("execution_changelist"), {"schedule": schedule.pk})
    page = listing.content.decode()
    assert listing.status_code == 200
    assert "Manual" in page and "Succeeded" in page and "slept 2s" in page
    assert clean(output) == []
