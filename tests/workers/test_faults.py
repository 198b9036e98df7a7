"""Faults with real processes around the hand-off: the broker stopped for 10 s (a private
redis-server of the test's own, never the machine's), the leading scheduler killed, an
enqueue that raises. After each: 0 duplicates, 0 occurrences without a row, 0 rows stuck
(tests/workers/faults.py). The job's process and whole workers killed: test_kills.py. Full
length: benchmarks/handoff.py --faults; figures in docs/guarantees.md.
"""

from __future__ import annotations

import signal
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from django_schedules.models import Execution, ExecutionStatus, SchedulerLease
from tests.processes import ManageCommand

from .engines import SETTINGS
from .faults import PrivateRedis, Schedules, free_port, run_on, settle_and_check
from .test_workers import ledger_lines, wait, worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def runscheduler(queue: str, *args: str, **env: str) -> ManageCommand:
    return ManageCommand(
        "runscheduler",
        "--lease-ttl",
        "3",
        *args,
        DJANGO_SETTINGS_MODULE=SETTINGS,
        SCHEDULES_WORKER_QUEUE=queue,
        **env,
    )


@pytest.mark.parametrize("engine", ["rq", "celery"])
def test_the_broker_stopped_for_10_seconds(engine: str, queue: str, tmp_path: Path) -> None:
    redis = PrivateRedis(free_port(), tmp_path)
    redis.start()
    env = {"SCHEDULES_WORKER_REDIS": redis.url}
    schedules = Schedules(engine, tmp_path / "ledger.txt")

    def start_worker() -> ManageCommand:
        return stack.enter_context(worker(engine, queue, **env))

    with ExitStack() as stack:
        stack.callback(redis.stop)
        engine_worker = start_worker()
        loop = stack.enter_context(runscheduler(queue, **env))
        wait(lambda: len(ledger_lines(schedules.ledger)) >= 10, "runs before the outage", loop)
        redis.stop()
        time.sleep(10)
        outage_end = time.time()
        redis.start()
        if engine_worker.process is not None and engine_worker.process.poll() is not None:
            # An rqworker that loses Redis while it watches a work horse exits: its
            # supervisor (systemd's Restart=always) starts it again, as the test does here.
            engine_worker = start_worker()
        wait(
            lambda: any(float(line[2]) > outage_end + 3 for line in ledger_lines(schedules.ledger)),
            "runs after the outage",
            loop,
            engine_worker,
        )
        # The leader still runs while the rows settle: it marks `lost` a run whose worker
        # died with Redis, and re-delivers a message the dying worker had taken.
        run_on(engine_worker, loop)
        statuses = settle_and_check(schedules, time.time(), engine_worker, loop)
        assert loop.stop() == 0, loop.output()
    assert statuses[ExecutionStatus.SUCCEEDED] >= 15, statuses


@pytest.mark.parametrize("engine", ["rq", "celery"])
def test_the_leading_scheduler_killed(engine: str, queue: str, tmp_path: Path) -> None:
    """Two schedulers; the leader is killed with SIGKILL: the standby takes the lease, adopts
    what the leader had claimed and not handed over, and every row still ends."""
    schedules = Schedules(engine, tmp_path / "ledger.txt")
    with (
        worker(engine, queue) as engine_worker,
        runscheduler(queue) as first,
        runscheduler(queue) as second,
    ):
        wait(
            lambda: len(ledger_lines(schedules.ledger)) >= 10, "runs before the kill", first, second
        )
        owner = SchedulerLease.objects.get().owner
        leader, standby = (first, second) if f":{first.pid}:" in owner else (second, first)
        leader.signal(signal.SIGKILL)
        killed_at = time.time()
        wait(
            lambda: any(float(line[2]) > killed_at + 5 for line in ledger_lines(schedules.ledger)),
            "runs after the kill",
            standby,
            engine_worker,
        )
        run_on(engine_worker, standby)
        statuses = settle_and_check(schedules, time.time(), engine_worker, standby)
        assert standby.stop() == 0, standby.output()
    assert statuses[ExecutionStatus.SUCCEEDED] >= 15, statuses


def test_an_enqueue_that_raises(queue: str, tmp_path: Path) -> None:
    """Every enqueue raises (RQ's queue points at a port nothing listens on): the scheduler
    keeps firing, each row is retried off its threads and finished `failed` with the reason
    after `give_up_after` (2 s here), never left `pending`, and its schedule's later
    occurrences are still claimed and tried rather than skipped for ever. Then the broker
    comes up on that port and the next runs go through."""
    redis = PrivateRedis(free_port(), tmp_path)
    env = {"SCHEDULES_WORKER_REDIS": redis.url, "SCHEDULES_WORKER_GIVE_UP": "2"}
    schedules = Schedules("rq", tmp_path / "ledger.txt", count=2, max_instances=1)
    with ExitStack() as stack:
        stack.callback(redis.stop)
        loop = stack.enter_context(runscheduler(queue, **env))
        failed = Execution.objects.filter(status=ExecutionStatus.FAILED)
        wait(lambda: failed.count() >= 6, "rows given up", loop, timeout=60)
        reasons = {row.reason.split(":")[0] for row in failed}
        assert reasons == {"not delivered"}, reasons
        # Each schedule's later occurrences were still tried, not all skipped behind the first.
        assert all(failed.filter(job_id=job_id).count() >= 2 for job_id in schedules.job_ids)
        redis.start()
        back = time.time()
        engine_worker = stack.enter_context(worker("rq", queue, **env))
        wait(
            lambda: any(float(line[2]) > back for line in ledger_lines(schedules.ledger)),
            "runs once the broker is there",
            loop,
            engine_worker,
        )
        run_on(engine_worker, loop)
        statuses = settle_and_check(schedules, time.time(), engine_worker, loop)
        assert loop.stop() == 0, loop.output()
    assert statuses[ExecutionStatus.FAILED] >= 6 and statuses[ExecutionStatus.SUCCEEDED] >= 1
