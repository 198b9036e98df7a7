"""No executor starts a run before its time (issue 21): the scheduler claims ahead of the
fire time, and each executor then waits for the instant. A process-pool worker used to start
at once, up to the claim-ahead window early (p50 -51 to -90 ms in the chaos runs).

One real `runscheduler` with a schedule on each executor (thread pool, process pool, and
django.tasks through django-tasks-db with a real ``db_worker``), 1-second intervals: the job
records ``time.time()`` at its first line, which must not be before the row's ``run_at``.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest

from django_schedules import add_job
from django_schedules.models import Execution
from tests.processes import ManageCommand

from .helpers import clean, scheduler_process, utcnow, wait_for, wait_until_leading

EXECUTORS = {
    "default": {"BACKEND": "threadpool"},
    "pool": {"BACKEND": "processpool", "OPTIONS": {"max_workers": 1}},
    "tasks": {"BACKEND": "tasks", "OPTIONS": {"backend": "db", "queue_name": "schedules"}},
}
RUNS = 6  # per schedule
# time.time() and the monotonic clock the wait is measured on may disagree by a little (NTP
# slews one of them): far below the ~50-100 ms the process pool used to start early.
CLOCKS = 0.002


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_executor_starts_a_run_before_its_run_at(settings: Any) -> None:
    settings.SCHEDULES_EXECUTORS = EXECUTORS  # add_job checks the name here too
    env = {"SCENARIO_EXECUTORS": json.dumps(EXECUTORS)}
    worker = ManageCommand(
        "db_worker", "--backend", "db", "--queue-name", "schedules", "--interval", "0.1",
        "--no-startup-delay",
    )  # fmt: skip
    worker.env["DJANGO_SETTINGS_MODULE"] = "tests.scenarios.settings"
    worker.env.update(env)
    with ExitStack() as stack:
        proc = stack.enter_context(scheduler_process(**env))
        stack.enter_context(worker)
        wait_until_leading(proc)
        start = utcnow().replace(microsecond=0) + timedelta(seconds=2)
        for executor in EXECUTORS:
            add_job(
                "scenarios.stamp",
                "interval",
                seconds=1,
                start_date=start,
                id=f"on-{executor}",
                executor=executor,
                max_instances=3,
            )

        def done() -> bool:
            finished = Execution.objects.filter(status="succeeded")
            return all(finished.filter(job_id=f"on-{e}").count() >= RUNS for e in EXECUTORS)

        wait_for(done, 120, f"{RUNS} runs on each executor")
        output = proc.output()
    for executor in EXECUTORS:
        runs = Execution.objects.filter(job_id=f"on-{executor}", status="succeeded")
        early = [
            float(e.result) - e.run_at.timestamp()  # type: ignore[union-attr]
            for e in runs
            if float(e.result) < e.run_at.timestamp() - CLOCKS  # type: ignore[union-attr]
        ]
        assert len(runs) >= RUNS and early == [], (executor, early)
        recorded = [e for e in runs if e.started_at < e.run_at - timedelta(seconds=CLOCKS)]  # type: ignore[operator]
        assert recorded == [], executor
    assert clean(output) == []
