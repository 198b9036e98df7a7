"""Jobs for the test suite, registered by autodiscover (this is the app's jobs.py)."""

from __future__ import annotations

import time
from typing import Any

from django_schedules import job
from django_schedules.registry import JobContext

CALLS: list[tuple[str, Any]] = []


@job
def add(a: int, b: int = 0) -> int:
    """Add two numbers.

    More text that is not the help line.
    """
    return a + b


@job
def noop() -> None:
    pass


@job(name="testapp.renamed")
def named_job(*, day: str) -> str:
    """A job registered under a stable name."""
    return day


@job
def with_context(x: int, context: JobContext) -> tuple[int, JobContext]:
    return x, context


@job
def anything(*args: Any, **kwargs: Any) -> None:
    CALLS.append(("anything", (args, kwargs)))


def not_registered() -> None:
    pass


# A django.tasks Task, registered as a job (Django 6's django.tasks, or the backport).
try:
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    try:
        from django_tasks import task
    except ImportError:  # neither installed: no task job
        task = None

if task is not None:

    @job
    @task()
    def a_task(x: int) -> int:
        """Echo x, as a task."""
        return x


@job
def fail_loudly(path: str) -> None:
    """Import a file that is not there (the admin's traceback test)."""
    raise FileNotFoundError(f"No such import file: {path}")


# --- Jobs of the scenario tests (tests/scenarios): they run inside `runscheduler` processes.


@job(name="scenarios.sleep")
def scenario_sleep(seconds: float = 1.0) -> str:
    """Take `seconds` to finish (a long job, for overlap and run-now scenarios)."""
    import time

    time.sleep(seconds)
    return f"slept {seconds:g}s"


@job(name="scenarios.echo")
def scenario_echo(word: str = "") -> str:
    """Return `word`, so the execution's result shows which arguments ran."""
    return word


@job(name="scenarios.stamp")
def scenario_stamp() -> float:
    """Return the wall-clock instant of this first line: when the run really started."""
    return time.time()


@job(name="scenarios.where")
async def scenario_where() -> str:
    """Name the thread this coroutine runs in: under `runscheduler --asyncio`, the event loop's
    (the main thread), not an executor's thread."""
    import threading

    return threading.current_thread().name


@job(name="workers.ledger")
def worker_ledger(path: str, seconds: float = 0.0, *, context: JobContext) -> str:
    """Append `execution attempt start-time pid` to the file at `path`, take `seconds`, then
    append `execution end end-time pid`: the worker tests count the job's real runs (a
    duplicate would show as a second line), its real start, and whether it was stopped."""
    import os
    import time

    with open(path, "a") as ledger:
        ledger.write(f"{context.execution_id} {context.attempt} {time.time():.6f} {os.getpid()}\n")
    time.sleep(seconds)
    with open(path, "a") as ledger:
        ledger.write(f"{context.execution_id} end {time.time():.6f} {os.getpid()}\n")
    return "ok"
