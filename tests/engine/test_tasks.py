"""The tasks executor: executions handed to Django's tasks framework as run_execution(id)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from django_schedules.clock import ManualClock
from django_schedules.executors import TasksExecutor, build_executors
from django_schedules.models import Execution, ExecutionStatus
from tests.databases import database_url
from tests.engine import jobs

from .conftest import interval_schedule, make_scheduler

# tests/settings.py installs django.tasks (Django 6) or the django-tasks backport (5.2) and
# django-tasks-db: nothing here is skipped for want of them.

ROOT = Path(__file__).resolve().parents[2]


def test_tasks_is_a_backend_name() -> None:
    built = build_executors({"queue": {"BACKEND": "tasks", "OPTIONS": {"queue_name": "s"}}})
    assert isinstance(built["queue"], TasksExecutor) and built["queue"].queue_name == "s"


@pytest.mark.django_db(transaction=True)
def test_it_runs_an_execution_through_the_immediate_backend(clock: ManualClock) -> None:
    # Without TASKS configured, the backport's default backend runs a task at once.
    interval_schedule("job", 60, kwargs={"tag": "queued"})
    executor = TasksExecutor("default", {}, using="default")
    make_scheduler(clock, executor).tick()
    execution = Execution.objects.get()
    assert execution.status == ExecutionStatus.SUCCEEDED and jobs.RUNS == [("record", "queued")]


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_delivery_through_tasks_runs_nothing_twice(clock: ManualClock) -> None:
    from django_schedules.tasks import run_execution

    interval_schedule("job", 60)
    make_scheduler(clock, TasksExecutor("default", {}, using="default")).tick()
    execution_id = Execution.objects.get().pk
    run_execution.call(execution_id)  # a second delivery of the same message
    assert jobs.RUNS == [("record", "")]


needs_tasks_db = pytest.mark.skipif(
    "django_tasks_db" not in settings.INSTALLED_APPS,
    reason="needs django_tasks_db in INSTALLED_APPS and a TASKS backend named 'db'",
)


def test_an_immediate_backend_is_enqueued_after_the_claim_commits() -> None:
    assert not TasksExecutor("q", {}, using="default").enqueues_in_transaction


@needs_tasks_db
@pytest.mark.django_db(transaction=True)
def test_django_tasks_db_on_our_database_enqueues_inside_the_claim(
    clock: ManualClock, monkeypatch
) -> None:
    from django.db import connection

    from django_schedules import tasks

    executor = TasksExecutor("queue", {"backend": "db", "queue_name": "schedules"}, using="default")
    assert executor.enqueues_in_transaction
    seen: list[bool] = []
    enqueue = tasks.enqueue

    def spy(*args, **kwargs):
        seen.append(connection.in_atomic_block)
        enqueue(*args, **kwargs)

    monkeypatch.setattr(tasks, "enqueue", spy)
    interval_schedule("job", 60)
    make_scheduler(clock, executor).tick()
    assert seen == [True]


@pytest.mark.slow
@needs_tasks_db
@pytest.mark.django_db(transaction=True)
def test_a_db_worker_process_runs_the_execution(clock: ManualClock, tmp_path: Path) -> None:
    interval_schedule("job", 60, func="tests.testapp.jobs.add", args=[40, 2])
    executor = TasksExecutor("queue", {"backend": "db", "queue_name": "schedules"}, using="default")
    make_scheduler(clock, executor).tick()
    assert Execution.objects.get().status == ExecutionStatus.PENDING  # queued, not run here
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
            timeout=120,
            check=False,
        )
    assert worker.returncode == 0, log.read_text()
    execution = Execution.objects.get()
    assert (execution.status, execution.result) == ("succeeded", "42"), log.read_text()
    assert f":{os.getpid()}:" not in execution.worker


# The sweeper's tests are in test_tasks_config.py, on a real RQ queue.


@pytest.mark.django_db
def test_engine_ids_name_the_execution_the_delivery_and_the_database() -> None:
    """An engine's ids are global to its broker, and execution ids start again in a database
    created again: the ids end with the database's namespace, the instant our first migration
    was applied to it, so a new database's execution 1 is not the old one's."""
    from django.db.migrations.recorder import MigrationRecorder

    from django_schedules import tasks

    first = tasks.engine_id(1, 1)
    assert first.startswith("schedules-1-1-") and first != "schedules-1-1-0"
    namespace = first.removeprefix("schedules-1-1-")
    assert tasks.engine_id(1, 2) == f"schedules-1-2-{namespace}"
    assert len({tasks.engine_id(n, 1) for n in range(1, 50)}) == 49
    recorded = MigrationRecorder.Migration.objects.filter(
        app="django_schedules", name="0001_initial"
    )
    applied = recorded.get().applied
    recorded.update(applied=applied.replace(year=applied.year - 1))  # the database created again
    tasks._namespaces.clear()  # a new process
    try:
        again = tasks.engine_id(1, 1)
        assert again.startswith("schedules-1-1-") and again != first
    finally:
        recorded.update(applied=applied)
        tasks._namespaces.clear()
    assert tasks.engine_id(1, 1) == first
