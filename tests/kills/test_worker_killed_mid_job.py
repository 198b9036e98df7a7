"""A worker is SIGKILLed in the middle of a job: a process pool's child, or the tasks
executor's ``db_worker`` (django-tasks-db on the same database). Its heartbeat stops; after
one lease TTL the leader records the Execution ``lost``, or, when its schedule has
``rerun_lost``, puts the same Execution back as its next attempt, which another worker runs.
Never a second Execution for the occurrence, never a lost run started again without
``rerun_lost``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from contextlib import ExitStack
from datetime import timedelta

import pytest

from django_schedules.models import Execution, Schedule
from django_schedules.triggers import IntervalTrigger
from tests.processes import ManageCommand

from .harness import (
    SETTINGS,
    TTL,
    Figures,
    clean,
    poll_until,
    process_of,
    progress,
    scale,
    scheduler_process,
    start_of_load,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXECUTORS = {
    "processpool": {"default": {"BACKEND": "processpool", "OPTIONS": {"max_workers": 2}}},
    "tasks": {
        "default": {"BACKEND": "tasks", "OPTIONS": {"backend": "db", "queue_name": "schedules"}}
    },
}


def db_worker() -> ManageCommand:
    """A django-tasks-db worker process on the test database."""
    command = ManageCommand(
        "db_worker", "--backend", "db", "--queue-name", "schedules", "--interval", "0.2",
        "--no-startup-delay",
    )  # fmt: skip
    command.env["DJANGO_SETTINGS_MODULE"] = SETTINGS
    return command


def make_victims(count: int, rerun_lost: bool) -> None:
    """`count` schedules due at once whose first attempt hangs until its worker is killed."""
    start = start_of_load(1.0)
    trigger = IntervalTrigger(hours=1, start_date=start).to_dict()
    for i in range(count):
        Schedule.objects.create(
            job_id=f"victim-{i}",
            func="kills.hang_first",
            kwargs={"seconds": 600},
            trigger=trigger,
            trigger_kind="interval",
            next_run_at=start,
            rerun_lost=rerun_lost,
        )


@pytest.mark.parametrize("rerun_lost", [False, True], ids=["lost", "rerun_lost"])
@pytest.mark.parametrize("executor", ["processpool", "tasks"])
def test_a_worker_killed_in_the_middle_of_a_job(executor: str, rerun_lost: bool) -> None:
    kills = scale("WORKER_KILLS", 1)
    figures = Figures(f"worker killed mid-job: {executor}{', rerun_lost' if rerun_lost else ''}")
    make_victims(kills, rerun_lost)
    victims = Execution.objects.filter(job_id__startswith="victim-")
    killed: dict[int, int] = {}  # execution id -> pid of the worker killed in its job
    with ExitStack() as stack:
        leader = stack.enter_context(
            scheduler_process(KILLS_EXECUTORS=json.dumps(EXECUTORS[executor]))
        )
        workers = [stack.enter_context(db_worker())] if executor == "tasks" else []
        for i in range(kills):
            row = poll_until(
                lambda: victims.filter(status="running", attempt=1).exclude(pk__in=killed).first(),
                120,
                "a victim's first attempt to run",
            )
            pid = int(row.worker.split(":")[1])
            assert pid != leader.process.pid  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
            killed[row.pk] = pid
            figures.faults += 1
            progress(f"kill {i + 1}/{kills}: {executor} worker {pid} in execution {row.pk}")
            if workers:  # the job ran in the db_worker itself: start another one
                workers.remove(process_of(workers, pid))
                workers.append(stack.enter_context(db_worker()))
        final = "succeeded" if rerun_lost else "lost"
        wait_for(
            lambda: victims.filter(pk__in=killed, status=final).count() == kills,
            60 + 10 * kills * TTL,
            f"every killed run to end {final}",
        )
        time.sleep(TTL)  # a lost run must stay lost: give the leader's upkeep its chance
        assert clean(leader.output()) == [], leader.output()
    rows = list(victims.values_list("pk", "job_id", "status", "attempt", "worker", "reason"))
    figures.runs = sum(attempt for _, _, status, attempt, *_ in rows if status != "pending")
    per_job = {
        job: sum(1 for r in rows if r[1] == job) for job in {f"victim-{i}" for i in range(kills)}
    }
    figures.firings = len(rows)
    figures.duplicates = sum(1 for n in per_job.values() if n > 1)
    figures.lost = sum(1 for n in per_job.values() if n == 0)
    figures.stuck = sum(1 for r in rows if r[2] in ("pending", "running"))
    figures.record()
    figures.assert_clean()
    for pk, _, status, attempt, worker, reason in rows:
        assert pk in killed
        if rerun_lost:  # the same Execution, run again by another worker as attempt 2
            assert (status, attempt) == ("succeeded", 2)
            assert f":{killed[pk]}:" not in worker
        else:
            assert (status, attempt, reason) == ("lost", 1, "its worker stopped heartbeating")
    if not rerun_lost:
        for lost in victims:
            # Marked lost only once its heartbeat was older than the TTL (by the database's
            # clock, on this same host).
            assert lost.finished_at - lost.heartbeat_at >= timedelta(seconds=TTL - 0.5)


def test_a_db_worker_run_outlasting_the_leaders_shorter_lease_is_not_lost() -> None:
    """``runscheduler --lease-ttl 3`` with ``SCHEDULES_LEASE_TTL`` left at 15 (docs/scheduler.md:
    "lower --lease-ttl for faster takeover"): the db_worker heartbeats its run every third of
    the setting, 5 s, so the leader must not call it lost after 3 s without one."""
    make_victims(1, rerun_lost=True)  # a wrong "lost" would even run it a second time
    Schedule.objects.update(kwargs={"seconds": 4 * TTL})
    with ExitStack() as stack:
        settings = {"KILLS_EXECUTORS": json.dumps(EXECUTORS["tasks"]), "KILLS_LEASE_TTL": "15"}
        leader = stack.enter_context(scheduler_process(**settings))
        worker = db_worker()
        worker.env.update(settings)
        stack.enter_context(worker)
        row = poll_until(
            lambda: Execution.objects.filter(status__in=["succeeded", "lost", "failed"]).first(),
            120,
            "the run to end",
        )
        assert clean(leader.output()) == [], leader.output()
        outcome = (row.status, row.attempt, row.result)
        assert outcome == ("succeeded", 1, "'attempt 1'"), (row.reason, worker.output())
    assert Execution.objects.count() == 1
