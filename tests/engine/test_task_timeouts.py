"""The tasks executor enforces a schedule's timeout: the worker stops the job where it can
(a SIGALRM alarm in a main thread), marks the run failed otherwise, and the leader times out a
run its worker left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connections

from django_schedules import job
from django_schedules.clock import ManualClock
from django_schedules.executors import TasksExecutor
from django_schedules.models import Execution, ExecutionStatus
from django_schedules.signals import execution_failed
from tests.databases import database_url
from tests.engine import jobs
from tests.polling import wait_until

from .conftest import interval_schedule, make_scheduler

# These tests need SIGALRM free, as in a db_worker: pytest-timeout's default method (CI runs
# with --timeout) takes it for itself, and the executor then rightly leaves it alone.
pytestmark = pytest.mark.timeout(600, method="thread")

ROOT = Path(__file__).resolve().parents[2]
trail_of_jobs: list[str] = []
GO_ON = threading.Event()


@job(name="engine.nap")
def nap(seconds: float = 60.0) -> str:
    """Sleep, then say so: a job the alarm must stop before it says anything."""
    try:
        time.sleep(seconds)
        trail_of_jobs.append("woke")
    finally:
        trail_of_jobs.append("finally ran")
    return "slept"


@job(name="engine.stubborn")
def stubborn() -> str:
    """Catch every Exception, as careless jobs do: the timeout must still get through."""
    try:
        time.sleep(60)
    except Exception:
        trail_of_jobs.append("swallowed")
    return "done"


@job(name="engine.hold")
def hold() -> str:
    GO_ON.wait(60)
    trail_of_jobs.append("held on")
    return "late"


@pytest.fixture(autouse=True)
def _reset() -> None:
    trail_of_jobs.clear()
    GO_ON.clear()


def timed_out(execution: Execution, seconds: str) -> bool:
    return (execution.status, execution.reason) == (
        ExecutionStatus.FAILED,
        f"timeout: still running after {seconds}s",
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("func", "trail"), [("engine.nap", ["finally ran"]), ("engine.stubborn", [])]
)
def test_the_immediate_backend_stops_a_job_at_its_timeout_in_the_main_thread(
    clock: ManualClock, func: str, trail: list[str]
) -> None:
    interval_schedule("late", 60, func=func, timeout=0.3)
    failed: list[int] = []

    def on_failed(sender, execution, **kwargs) -> None:
        failed.append(execution.pk)

    execution_failed.connect(on_failed)
    try:
        make_scheduler(clock, TasksExecutor("default", {}, using="default")).tick()
    finally:
        execution_failed.disconnect(on_failed)
    execution = Execution.objects.get()
    assert timed_out(execution, "0.3"), (execution.status, execution.reason)
    # Stopped inside the job: it never woke, its `finally` ran, its `except Exception` did
    # not hold the timeout back.
    assert trail_of_jobs == trail
    assert failed == [execution.pk]
    # The alarm is handed back as it was found.
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.django_db(transaction=True)
def test_an_alarm_the_process_uses_already_is_left_alone(clock: ManualClock) -> None:
    # Someone else's SIGALRM (a web server's, pytest-timeout's): the run is still marked
    # failed at its timeout, by the watchdog, and their handler and timer are untouched.
    theirs: list[int] = []

    def their_handler(signum: int, frame: object) -> None:
        theirs.append(signum)

    interval_schedule("late", 60, func="engine.nap", kwargs={"seconds": 1.0}, timeout=0.3)
    before = signal.signal(signal.SIGALRM, their_handler)
    signal.setitimer(signal.ITIMER_REAL, 100)
    try:
        make_scheduler(clock, TasksExecutor("default", {}, using="default")).tick()
        assert signal.getsignal(signal.SIGALRM) is their_handler
        assert 90 < signal.getitimer(signal.ITIMER_REAL)[0] <= 100
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
    execution = Execution.objects.get()
    assert timed_out(execution, "0.3"), (execution.status, execution.reason)
    assert trail_of_jobs == ["woke", "finally ran"]  # a thread cannot be stopped: it ran on
    assert theirs == []


@pytest.mark.django_db(transaction=True)
def test_a_run_within_its_timeout_is_untouched(clock: ManualClock) -> None:
    interval_schedule("quick", 60, kwargs={"tag": "in time"}, timeout=30)
    make_scheduler(clock, TasksExecutor("default", {}, using="default")).tick()
    execution = Execution.objects.get()
    assert (execution.status, execution.reason) == (ExecutionStatus.SUCCEEDED, "")
    assert jobs.RUNS == [("record", "in time")]
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.django_db(transaction=True)
def test_a_retry_does_not_outlive_the_timeout(clock: ManualClock) -> None:
    # Each attempt fails at once; the retry delay (10 s) is cut by the 0.3 s timeout.
    interval_schedule(
        "retrying", 60, func="engine.flaky", args=[5], max_retries=3, retry_delay=10, timeout=0.3
    )
    started = time.monotonic()
    make_scheduler(clock, TasksExecutor("default", {}, using="default")).tick()
    assert time.monotonic() - started < 9  # the 10 s retry sleep was interrupted
    assert timed_out(Execution.objects.get(), "0.3")


@pytest.mark.django_db(transaction=True)
def test_outside_the_main_thread_the_run_is_marked_failed_and_its_late_result_dropped(
    clock: ManualClock, caplog
) -> None:
    from django_schedules.tasks import run_execution

    interval_schedule("held", 60, func="engine.hold", timeout=0.3)
    # Claimed and enqueued, not run: a worker thread takes the delivery below.
    make_scheduler(clock, RecordingTasks()).tick()
    (execution_id,) = Execution.objects.values_list("pk", flat=True)
    outcome: list[str] = []

    def deliver() -> None:
        try:
            outcome.append(run_execution.call(execution_id))
        finally:
            connections.close_all()

    worker = threading.Thread(target=deliver)
    worker.start()
    wait_until(
        lambda: timed_out(Execution.objects.get(), "0.3"),
        timeout=30,
        interval=0.02,
        message="the watchdog to mark the run failed",
    )
    assert worker.is_alive() and trail_of_jobs == []  # a thread cannot be stopped: it runs on
    GO_ON.set()
    worker.join(30)
    assert trail_of_jobs == ["held on"] and outcome == [""]
    assert timed_out(Execution.objects.get(), "0.3")  # the late result is dropped
    assert "a thread that cannot be stopped" in caplog.text


class RecordingTasks(TasksExecutor):
    """A tasks executor whose broker keeps the messages (nothing runs them here)."""

    def __init__(self) -> None:
        super().__init__("default", {}, using="default")
        self.sent: list[int] = []

    def _enqueue(self, execution_id: int, start_in: float) -> None:
        self.sent.append(execution_id)


@pytest.mark.django_db(transaction=True)
def test_the_leader_times_out_a_run_its_worker_left_running(clock: ManualClock, caplog) -> None:
    schedule = interval_schedule("frozen", 60, timeout=2)
    started = datetime.now(UTC) - timedelta(seconds=2 + 15 + 1)  # past timeout + lease TTL
    frozen = Execution.objects.create(
        schedule=schedule,
        job_id="frozen",
        func="engine.record",
        fire_time=started,
        status=ExecutionStatus.RUNNING,
        executor="default",
        started_at=started,
        heartbeat_at=datetime.now(UTC),
    )
    within = Execution.objects.create(
        schedule=schedule,
        job_id="frozen",
        func="engine.record",
        fire_time=started + timedelta(seconds=1),
        status=ExecutionStatus.RUNNING,
        executor="default",
        started_at=datetime.now(UTC) - timedelta(seconds=10),  # past 2 s, not past 2 + TTL
        heartbeat_at=datetime.now(UTC),
    )
    make_scheduler(clock, RecordingTasks(), lease_ttl=15).tick()
    frozen.refresh_from_db()
    within.refresh_from_db()
    assert timed_out(frozen, "2")
    assert within.status == ExecutionStatus.RUNNING
    assert "its worker did not stop it" in caplog.text


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_db_worker_process_stops_a_job_at_its_timeout(clock: ManualClock, tmp_path: Path) -> None:
    # The job would sleep ten minutes: a worker that did not stop it would outlive the
    # subprocess deadline below.
    interval_schedule("sleepy", 60, func="scenarios.sleep", kwargs={"seconds": 600}, timeout=1)
    executor = TasksExecutor("queue", {"backend": "db", "queue_name": "schedules"}, using="default")
    make_scheduler(clock, executor).tick()
    assert Execution.objects.get().status == ExecutionStatus.PENDING
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    with log.open("wb") as out:
        worker = subprocess.run(
            [
                sys.executable,
                "-m",
                "django",
                "db_worker",
                "--batch",
                "--backend",
                "db",
                "--queue-name",
                "schedules",
                "--no-startup-delay",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=300,
            check=False,
        )
    assert worker.returncode == 0, log.read_text()
    execution = Execution.objects.get()
    assert timed_out(execution, "1"), (execution.status, execution.reason, log.read_text())
    assert f":{os.getpid()}:" not in execution.worker
    assert "stopped and marked failed" in log.read_text()
