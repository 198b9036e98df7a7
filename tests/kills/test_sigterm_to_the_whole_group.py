"""SIGTERM to every process of the scheduler at once, as systemd's default
``KillMode=control-group`` stops a service and as Ctrl-C reaches a terminal's foreground
group: a job running in a process-pool worker still gets ``SCHEDULES_SHUTDOWN_GRACE`` and
finishes, instead of dying with its worker.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from django_schedules.models import Execution, Schedule
from django_schedules.triggers import IntervalTrigger

from .harness import clean, poll_until, scheduler_process, start_of_load

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POOL = {"default": {"BACKEND": "processpool", "OPTIONS": {"max_workers": 1}}}


def test_a_sigterm_to_the_whole_group_lets_a_process_pool_job_finish() -> None:
    start = start_of_load(1.0)
    Schedule.objects.create(
        job_id="long",
        func="scenarios.sleep",
        kwargs={"seconds": 4},
        trigger=IntervalTrigger(hours=1, start_date=start).to_dict(),
        trigger_kind="interval",
        next_run_at=start,
    )
    command = scheduler_process(KILLS_EXECUTORS=json.dumps(POOL))
    command.new_session = True
    with command as scheduler:
        row = poll_until(
            lambda: Execution.objects.filter(status="running").first(), 120, "the job to start"
        )
        worker = int(row.worker.split(":")[1])
        assert worker != scheduler.pid  # it runs in a worker process of the pool
        os.killpg(os.getpgid(scheduler.pid), signal.SIGTERM)
        assert scheduler.process is not None
        assert scheduler.process.wait(90) == 0, scheduler.output()
        assert clean(scheduler.output()) == [], scheduler.output()
    execution = Execution.objects.get()
    assert (execution.status, execution.result) == ("succeeded", "'slept 4s'"), (
        execution.status,
        execution.reason,
    )
