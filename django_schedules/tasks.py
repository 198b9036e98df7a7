"""The one internal task through which the ``tasks`` executor hands executions to Django's
tasks framework: ``run_execution(execution_id)``.

It carries only an integer, so a job needs no special signature, and the outcome is kept on
the Execution row even when a backend cannot store results. A worker claims the row by CAS
``pending -> running``: a duplicate delivery runs nothing. Imported only when the ``tasks``
executor is used: it needs ``django.tasks`` (Django 6) or the ``django-tasks`` backport.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

try:
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[no-redef,unused-ignore]

from django.db import connections

from django_schedules import store
from django_schedules.conf import conf
from django_schedules.runner import run_execution_now


@contextmanager
def _heartbeat(execution_id: int, using: str) -> Iterator[None]:
    """Refresh the row's heartbeat while the job runs: the worker is not the scheduler
    process, which heartbeats only the runs it executes itself."""
    done = threading.Event()

    def beat() -> None:
        try:
            while not done.wait(conf.SCHEDULES_LEASE_TTL / 3):
                store.heartbeat([execution_id], using)
        finally:
            connections.close_all()

    thread = threading.Thread(target=beat, name=f"schedules-heartbeat-{execution_id}")
    thread.daemon = True
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@task()
def run_execution(execution_id: int) -> str:
    """Run one Execution of django-schedules (a no-op when another worker has it)."""
    using = conf.SCHEDULES_DATABASE
    with _heartbeat(execution_id, using):
        # No scheduler watches this run: the worker stops it at its timeout itself.
        return run_execution_now(execution_id, None, using, stop_at_timeout=True)


def enqueue(execution_id: int, *, backend: str, queue_name: str | None, run_after: Any) -> None:
    """Enqueue ``run_execution(execution_id)`` on `backend` (deferred when it can defer)."""
    changes: dict[str, Any] = {"backend": backend}
    if queue_name:
        changes["queue_name"] = queue_name
    configured = run_execution.using(**changes)
    if run_after is not None and configured.get_backend().supports_defer:
        configured = configured.using(run_after=run_after)
    configured.enqueue(execution_id)


def backend_writes_to(backend: str, using: str) -> bool:
    """True when the tasks backend `backend` is django-tasks-db storing tasks in `using`."""
    configured = run_execution.using(backend=backend).get_backend()
    if type(configured).__module__.split(".")[0] != "django_tasks_db":
        return False
    from django.db import router
    from django_tasks_db.models import DBTaskResult

    return router.db_for_write(DBTaskResult) == using
