"""The tasks executor under every documented configuration: any TASKS alias, any queue; the
system checks that refuse what cannot work; a backend that cannot enqueue.

The backends are the framework's own (the dummy backend keeps what is enqueued in memory and
runs nothing: a broker nobody consumes); nothing stands in for the framework.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from django_schedules import tasks
from django_schedules.checks import check_tasks_executors
from django_schedules.clock import ManualClock
from django_schedules.executors import InlineExecutor, TasksExecutor
from django_schedules.models import Execution, ExecutionStatus
from django_schedules.scheduler import Scheduler
from tests.databases import database_url
from tests.polling import wait_until
from tests.settings import TASKS, TASKS_PACKAGE

from .conftest import interval_schedule

ROOT = Path(__file__).resolve().parents[2]
DUMMY = f"{TASKS_PACKAGE}.backends.dummy.DummyBackend"
ONLY_SCHEDULES = {**TASKS, "queued": {"BACKEND": DUMMY, "QUEUES": ["schedules"]}}


def executors(**options: object) -> dict[str, dict[str, object]]:
    return {"default": {"BACKEND": "threadpool"}, "q": {"BACKEND": "tasks", "OPTIONS": options}}


@override_settings(TASKS=ONLY_SCHEDULES)
def test_a_backend_without_the_default_queue_gets_the_task_on_its_own_queue() -> None:
    with override_settings(SCHEDULES_EXECUTORS=executors(backend="queued", queue_name="schedules")):
        assert check_tasks_executors(None) == []
        built = tasks.task_for("queued", "schedules")
    backend = tasks.get_backend("queued")
    # Built by the backend's own task class, for that backend and queue.
    assert type(built) is backend.task_class
    assert (built.backend, built.queue_name) == ("queued", "schedules")
    assert built.module_path == "django_schedules.tasks.run_execution"


@override_settings(TASKS=ONLY_SCHEDULES)
def test_a_queue_the_backend_refuses_is_a_check_error_naming_setting_and_value() -> None:
    with override_settings(SCHEDULES_EXECUTORS=executors(backend="queued", queue_name="other")):
        (error,) = check_tasks_executors(None)
    assert error.id == "django_schedules.E015"
    assert "SCHEDULES_EXECUTORS['q']['OPTIONS']['queue_name'] is 'other'" in error.msg
    assert "TASKS['queued'] accepts only the QUEUES ['schedules']" in error.msg


@override_settings(TASKS=ONLY_SCHEDULES)
def test_no_queue_name_on_a_backend_without_default_is_a_check_error() -> None:
    with override_settings(SCHEDULES_EXECUTORS=executors(backend="queued")):
        (error,) = check_tasks_executors(None)
    assert error.id == "django_schedules.E015"
    assert "sets no 'queue_name', so its tasks go to 'default'" in error.msg


def test_a_missing_backend_is_a_check_error_naming_the_alias() -> None:
    with override_settings(SCHEDULES_EXECUTORS=executors(backend="nowhere")):
        (error,) = check_tasks_executors(None)
    assert error.id == "django_schedules.E014"
    assert "SCHEDULES_EXECUTORS['q']['OPTIONS']['backend'] is 'nowhere'" in error.msg


def test_a_priority_the_backend_refuses_is_a_check_error() -> None:
    with override_settings(SCHEDULES_EXECUTORS=executors(priority=1000)):
        (error,) = check_tasks_executors(None)
    assert error.id == "django_schedules.E016" and "priority 1000" in error.msg


def test_no_tasks_executor_no_check() -> None:
    with override_settings(TASKS={"default": {"BACKEND": DUMMY, "QUEUES": ["x"]}}):
        assert check_tasks_executors(None) == []


def test_the_docs_example_imports_and_passes_the_checks(tmp_path: Path) -> None:
    """TASKS['default'] with QUEUES ['schedules'] (the docs' example): importing the task
    module, as a worker does, works, and `check` passes (it used to raise "Queue 'default' is
    not valid for backend" inside every claim)."""
    settings = tmp_path / "docs_example_settings.py"
    settings.write_text(
        "from tests.settings import *\n"
        # The test app declares a task of its own on the default queue: left out here.
        "INSTALLED_APPS = [a for a in INSTALLED_APPS if a != 'tests.testapp']\n"
        f"TASKS = {{'default': {{'BACKEND': {DUMMY!r}, 'QUEUES': ['schedules']}}}}\n"
        "SCHEDULES_EXECUTORS = {'default': {'BACKEND': 'threadpool'}, 'queue': "
        "{'BACKEND': 'tasks', 'OPTIONS': {'backend': 'default', 'queue_name': 'schedules'}}}\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "docs_example_settings",
        "DATABASE_URL": database_url(),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
    }
    code = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "from django_schedules.tasks import run_execution\n"
        "print(type(run_execution).__name__, run_execution.queue_name)\n"
        "call_command('check')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Task schedules" in done.stdout


@pytest.mark.django_db(transaction=True)
@override_settings(TASKS=ONLY_SCHEDULES)
def test_a_broken_backend_never_rolls_back_another_executors_claims(clock: ManualClock) -> None:
    """One executor names a TASKS alias that does not exist: the other executor's run is
    claimed and runs; the broken one's enqueue fails, is retried with backoff off the
    scheduler's threads, and once `give_up_after` has passed the row is finished `failed`
    (not left pending), so the schedule's next occurrence is not skipped for it."""
    broken = TasksExecutor(
        "broken",
        {"backend": "nowhere", "retry_backoff": 0.05, "give_up_after": 0.5},
        using="default",
    )
    fine = InlineExecutor("default", {}, using="default")
    scheduler = Scheduler(clock=clock, executors={"default": fine, "broken": broken}, lookahead=0.0)
    interval_schedule("works", 60)
    interval_schedule("undeliverable", 60, executor="broken")
    scheduler.tick()
    assert Execution.objects.get(job_id="works").status == ExecutionStatus.SUCCEEDED
    row = Execution.objects.get(job_id="undeliverable")
    wait_until(
        lambda: Execution.objects.get(pk=row.pk).status == ExecutionStatus.FAILED,
        timeout=30,
        message="the undeliverable row to be finished failed",
    )
    row.refresh_from_db()
    assert row.reason.startswith("not delivered: enqueue on tasks backend 'nowhere' failed")
    clock.advance(60)
    scheduler.tick()
    later = Execution.objects.filter(job_id="undeliverable").order_by("fire_time").last()
    assert later is not None and later.pk != row.pk
    assert later.status == ExecutionStatus.PENDING  # claimed, not skipped
    broken.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rq_settings(queue: str, port: int = 6379) -> dict[str, object]:
    return {
        "TASKS": {**TASKS, "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [queue]}},
        "RQ_QUEUES": {queue: {"URL": f"redis://127.0.0.1:{port}/0", "SOCKET_TIMEOUT": 2}},
    }


def waiting_in_rq(queue: str, port: int = 6379) -> list[list[object]]:
    """The arguments of each message waiting in the RQ queue, oldest first."""
    import django_rq

    with override_settings(RQ_QUEUES={queue: {"URL": f"redis://127.0.0.1:{port}/0"}}):
        rq_queue = django_rq.get_queue(queue)
        return [list(job.args) for job in rq_queue.get_jobs()]


@pytest.fixture
def rq_queue() -> Iterator[str]:
    """A queue of this test's own on the machine's Redis, emptied (only it) at the end."""
    import django_rq

    name = f"schedules_test_{uuid.uuid4().hex[:8]}"
    yield name
    with override_settings(RQ_QUEUES={name: {"URL": "redis://127.0.0.1:6379/0"}}):
        django_rq.get_queue(name).empty()


@pytest.mark.django_db(transaction=True)
def test_a_burst_is_enqueued_off_the_timer_thread_each_once(
    clock: ManualClock, rq_queue: str
) -> None:
    with override_settings(**rq_settings(rq_queue)):
        executor = TasksExecutor(
            "default", {"backend": "rq", "queue_name": rq_queue}, using="default"
        )
        scheduler = Scheduler(clock=clock, executors={"default": executor}, lookahead=0.0)
        for n in range(50):
            interval_schedule(f"burst-{n}", 60)
        scheduler.tick()
        assert executor.drain(60)
        executor.close()
    waiting = waiting_in_rq(rq_queue)
    assert sorted(args[0] for args in waiting) == sorted(
        Execution.objects.values_list("pk", flat=True)
    )
    # Each message carries the execution id, the delivery number and the instant.
    assert {len(args) for args in waiting} == {3} and {args[1] for args in waiting} == {1}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_enqueue_during_a_broker_outage_is_delivered_when_it_returns(
    clock: ManualClock, tmp_path: Path
) -> None:
    """A private redis-server (never the machine's) is down when the run is due: the enqueue
    fails, is retried with backoff, and reaches the broker once it is up; the row stays
    pending for a worker, delivered once."""
    port = free_port()
    with override_settings(**rq_settings("outage", port)):
        executor = TasksExecutor(
            "default",
            {"backend": "rq", "queue_name": "outage", "retry_backoff": 0.1, "max_backoff": 0.5},
            using="default",
        )
        scheduler = Scheduler(clock=clock, executors={"default": executor}, lookahead=0.0)
        interval_schedule("during-outage", 60)
        scheduler.tick()
        row = Execution.objects.get()
        assert not executor.drain(2)  # refused, retrying
        server = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert executor.drain(60), "the outbox did not empty once the broker was up"
            executor.close()
            assert [args[0] for args in waiting_in_rq("outage", port)] == [row.pk]
        finally:
            server.terminate()
            server.wait(10)
    row.refresh_from_db()
    assert row.status == ExecutionStatus.PENDING  # for a worker: nothing gave up on it


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_enqueues_a_run_left_pending_again_then_fails_it(
    clock: ManualClock, rq_queue: str, caplog
) -> None:
    """No worker takes the message: the leader's sweeper enqueues it again (delivery 2, 3),
    then finishes the row failed rather than leave it pending for ever."""
    with override_settings(**rq_settings(rq_queue)):
        executor = TasksExecutor(
            "default",
            {"backend": "rq", "queue_name": rq_queue, "redeliver_after": 0, "max_redeliveries": 2},
            using="default",
        )
        scheduler = Scheduler(
            clock=clock, executors={"default": executor}, lookahead=0.0, lease_ttl=3
        )
        interval_schedule("swept", 3600)
        scheduler.tick()
        assert executor.drain(30)
        for _ in range(4):
            clock.advance(1)  # a third of the TTL: the leader's upkeep sweeps
            scheduler.tick()
            assert executor.drain(30)
        executor.close()
    (execution,) = Execution.objects.filter(job_id="swept")
    assert [args[:2] for args in waiting_in_rq(rq_queue)] == [
        [execution.pk, 1],
        [execution.pk, 2],
        [execution.pk, 3],
    ]
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.reason.startswith("not started: no worker took it after 3 enqueues")


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_leaves_a_started_run_alone(clock: ManualClock, rq_queue: str) -> None:
    with override_settings(**rq_settings(rq_queue)):
        executor = TasksExecutor(
            "default", {"backend": "rq", "queue_name": rq_queue, "redeliver_after": 0},
            using="default",
        )  # fmt: skip
        scheduler = Scheduler(
            clock=clock, executors={"default": executor}, lookahead=0.0, lease_ttl=3
        )
        interval_schedule("started", 3600)
        scheduler.tick()
        assert executor.drain(30)
        Execution.objects.filter(job_id="started").update(status=ExecutionStatus.RUNNING)
        for _ in range(3):
            clock.advance(1)
            scheduler.tick()
            assert executor.drain(30)
        executor.close()
    assert len(waiting_in_rq(rq_queue)) == 1 and not executor._enqueued


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_broker_that_never_answers_holds_no_thread_and_no_row(clock: ManualClock) -> None:
    """A private listener accepts the connection and never answers (a hung broker; the
    Redis client has no socket timeout): each stuck enqueue is left to its thread after
    `enqueue_timeout`, tried again from another, and the row is finished failed after
    `give_up_after`; meanwhile another execution of the same executor is not held up."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    port = hung.getsockname()[1]
    try:
        with override_settings(
            TASKS={**TASKS, "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["hung"]}},
            RQ_QUEUES={"hung": {"URL": f"redis://127.0.0.1:{port}/0"}},
        ):
            executor = TasksExecutor(
                "default",
                {"backend": "rq", "queue_name": "hung", "enqueue_timeout": 0.3,
                 "retry_backoff": 0.05, "give_up_after": 1.5},
                using="default",
            )  # fmt: skip
            scheduler = Scheduler(clock=clock, executors={"default": executor}, lookahead=0.0)
            interval_schedule("hung", 60)
            scheduler.tick()
            row = Execution.objects.get()
            wait_until(
                lambda: Execution.objects.get(pk=row.pk).status == ExecutionStatus.FAILED,
                timeout=60,
                message="the row of the hung enqueue to be finished failed",
            )
            assert executor.drain(5)  # the stuck threads no longer count
            executor.close()
    finally:
        hung.close()
    row.refresh_from_db()
    assert "no answer from the broker in 0.3s" in row.reason, row.reason
