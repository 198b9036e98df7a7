"""Faults with real processes around the hand-off: the broker stopped for 10 s (a private
redis-server of the test's own, never the machine's), the leading scheduler killed. After
each: no occurrence without a row, no run twice (the ledger), no row left pending or running.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from django_schedules import api
from django_schedules.models import Execution, ExecutionStatus
from tests.processes import ManageCommand

from .test_workers import EXECUTORS, SETTINGS, ledger_lines, wait, worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _executors(settings) -> None:
    settings.SCHEDULES_EXECUTORS = EXECUTORS


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A redis-server on a port of its own, keeping nothing on disk."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.directory = port, directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"the private redis-server on {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def settle_and_check(ledger: Path, stopped_at: float, *processes: ManageCommand) -> Counter[str]:
    """Wait until no row due before `stopped_at` is pending or running; then each row ran at
    most once, and each succeeded one once. Return the statuses of those rows."""
    before = datetime.fromtimestamp(stopped_at - 1, UTC)
    due = Execution.objects.filter(fire_time__lt=before)
    wait(
        lambda: not due.filter(status__in=["pending", "running"]).exists(),
        "every row to end",
        *processes,
        timeout=180,
    )
    rows = list(due)
    ran = Counter(int(line[0]) for line in ledger_lines(ledger))
    assert max(ran.values(), default=0) <= 1, ran.most_common(3)
    succeeded = {row.pk for row in rows if row.status == ExecutionStatus.SUCCEEDED}
    assert succeeded <= set(ran), succeeded - set(ran)
    for row in rows:
        if row.status == ExecutionStatus.FAILED:
            assert row.reason, row.pk
    return Counter(row.status for row in rows)


@pytest.mark.parametrize("engine", ["rq", "celery"])
def test_the_broker_stopped_for_10_seconds(engine: str, tmp_path: Path) -> None:
    port = free_port()
    redis = PrivateRedis(port, tmp_path)
    redis.start()
    queue = "outage"
    env = {"SCHEDULES_WORKER_REDIS": f"redis://127.0.0.1:{port}/0"}
    ledger = tmp_path / "ledger.txt"
    for n in range(5):
        api.add_job(
            "workers.ledger", "interval", seconds=1, kwargs={"path": str(ledger)},
            id=f"{engine}-{n}", executor=engine,
        )  # fmt: skip

    def start_worker() -> ManageCommand:
        command = worker(engine, queue)
        command.env.update(env)
        return stack.enter_context(command)

    with ExitStack() as stack:
        stack.callback(redis.stop)
        engine_worker = start_worker()
        loop = stack.enter_context(
            ManageCommand(
                "runscheduler",
                "--lease-ttl",
                "5",
                DJANGO_SETTINGS_MODULE=SETTINGS,
                SCHEDULES_WORKER_QUEUE=queue,
                **env,
            )
        )
        wait(lambda: len(ledger_lines(ledger)) >= 10, "runs before the outage", loop)
        redis.stop()
        time.sleep(10)
        outage_end = time.time()
        redis.start()
        if engine_worker.process is not None and engine_worker.process.poll() is not None:
            # An rqworker that loses Redis while it watches a work horse exits: its
            # supervisor (systemd's Restart=always) starts it again, as the test does here.
            engine_worker = start_worker()
        wait(
            lambda: any(float(line[2]) > outage_end + 3 for line in ledger_lines(ledger)),
            "runs after the outage",
            loop,
            engine_worker,
        )
        # The leader still runs while the rows settle: it marks `lost` a run whose worker
        # died with Redis, and re-delivers a message the dying worker had taken.
        statuses = settle_and_check(ledger, time.time(), engine_worker, loop)
        assert loop.stop() == 0, loop.output()
    assert statuses[ExecutionStatus.SUCCEEDED] >= 15, statuses


def test_the_leading_scheduler_killed(tmp_path: Path) -> None:
    """Two schedulers; the leader is killed with SIGKILL: the standby takes the lease, adopts
    what the leader had claimed and not handed over, and every row still ends."""
    queue = f"leader_{int(time.time() * 1000) % 10**8}"
    ledger = tmp_path / "ledger.txt"
    for n in range(5):
        api.add_job(
            "workers.ledger", "interval", seconds=1, kwargs={"path": str(ledger)},
            id=f"rq-{n}", executor="rq",
        )  # fmt: skip
    env = {"DJANGO_SETTINGS_MODULE": SETTINGS, "SCHEDULES_WORKER_QUEUE": queue}
    with (
        worker("rq", queue) as engine_worker,
        ManageCommand("runscheduler", "--lease-ttl", "3", **env) as first,
        ManageCommand("runscheduler", "--lease-ttl", "3", **env) as second,
    ):
        wait(lambda: len(ledger_lines(ledger)) >= 10, "runs before the kill", first, second)
        from django_schedules.models import SchedulerLease

        owner = SchedulerLease.objects.get().owner
        leader, standby = (first, second) if f":{first.pid}:" in owner else (second, first)
        leader.signal(signal.SIGKILL)
        killed_at = time.time()
        wait(
            lambda: any(float(line[2]) > killed_at + 5 for line in ledger_lines(ledger)),
            "runs after the kill",
            standby,
            engine_worker,
        )
        statuses = settle_and_check(ledger, time.time(), engine_worker, standby)
        assert standby.stop() == 0, standby.output()
    assert statuses[ExecutionStatus.SUCCEEDED] >= 15, statuses
