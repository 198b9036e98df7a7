"""Where a schedule's runs can go, checked when it is written: the per-schedule ``queue`` and
``priority`` (declared in options.py) against a ``tasks`` executor's backend, and a job defined
in a script (``__main__``) kept on an executor that runs jobs in this process."""

from __future__ import annotations

from typing import Any

from django_schedules.conf import conf
from django_schedules.exceptions import InvalidSchedule


def check_routing(executor_name: str, queue_name: str, priority_value: int | None) -> None:
    """Raise InvalidSchedule (field ``queue`` or ``priority``, with the value) unless the
    executor `executor_name` can send runs to `queue_name` at `priority_value`: only a
    ``tasks`` executor routes, and its backend must accept both (its ``QUEUES``, its
    priority range). Empty and None (the executor's own) always pass."""
    if not queue_name and priority_value is None:
        return
    field, value = ("queue", queue_name) if queue_name else ("priority", priority_value)
    executors: object = conf.SCHEDULES_EXECUTORS
    entry = executors.get(executor_name) if isinstance(executors, dict) else None
    backend_name = entry.get("BACKEND") if isinstance(entry, dict) else None
    from django_schedules.executors.base import BACKENDS

    if (
        not isinstance(backend_name, str)
        or BACKENDS.get(backend_name, backend_name) != BACKENDS["tasks"]
    ):
        raise InvalidSchedule(
            f"{field} {value!r} needs a tasks executor; executor {executor_name!r} is "
            f"{backend_name!r}, which runs every job in its own way (leave {field} empty)",
            field,
        )
    assert isinstance(entry, dict)  # noqa: S101 - a tasks executor's entry
    own: dict[str, Any] = entry.get("OPTIONS") or {}
    backend = str(own.get("backend", "default"))
    try:
        from django_schedules import tasks
    except ImportError as exc:  # no tasks framework: check E013 says so too
        raise InvalidSchedule(f"{field} {value!r} needs the tasks framework: {exc}", field) from exc

    wanted_queue = queue_name or own.get("queue_name")
    wanted_priority = priority_value if priority_value is not None else own.get("priority")
    checks: list[tuple[str, object, Any]] = []
    if queue_name:
        checks.append(("queue", queue_name, own.get("priority")))
    if priority_value is not None:
        checks.append(("priority", priority_value, wanted_priority))
    for at_fault, given, with_priority in checks:
        try:
            tasks.task_for(backend, wanted_queue, with_priority)
        except Exception as exc:
            raise InvalidSchedule(
                f"{at_fault} {given!r} is refused by tasks backend {backend!r} of executor "
                f"{executor_name!r}: {exc}",
                at_fault,
            ) from exc


# The backends that run a job in this process, where a function defined in a script
# (``__main__``) exists.
IN_PROCESS = frozenset({"threadpool", "inline"})


def backend_kind(name: str) -> str:
    """The backend of executor ``name`` in SCHEDULES_EXECUTORS, as a short name when it is
    one of ours (``threadpool``...), else its dotted path."""
    from django_schedules.executors.base import BACKENDS

    executors: object = conf.SCHEDULES_EXECUTORS
    entry = executors.get(name) if isinstance(executors, dict) else None
    backend = str(entry.get("BACKEND", "threadpool") if isinstance(entry, dict) else "threadpool")
    by_path = {path: short for short, path in BACKENDS.items()}
    return by_path.get(backend, backend)


def check_script_job(func_name: str, executor_name: str, given: str | None = None) -> None:
    """Raise InvalidSchedule (field ``executor``) when `func_name` is defined in a script
    (``__main__``) and executor `executor_name` runs jobs in another process, where that
    function does not exist. `given`: the executor as the caller named it, when it was
    mapped onto `executor_name` (a scheduler object's alias)."""
    if not func_name.startswith("__main__.") or backend_kind(executor_name) in IN_PROCESS:
        return
    shown = executor_name if given is None else given
    mapped = f" ({executor_name!r} in SCHEDULES_EXECUTORS)" if shown != executor_name else ""
    raise InvalidSchedule(
        f"{func_name!r} is defined in a script (__main__), so it can run only in this "
        f"process, and executor {shown!r}{mapped} runs jobs elsewhere: give a thread pool "
        f'executor, or register the function with @job(name="...") in an importable module',
        "executor",
        value=shown,
    )


def check_overlap(policy: str, executor_name: str) -> None:
    """Raise InvalidSchedule (field ``overlap``) for ``overlap="cancel_running"`` on an
    executor that cannot stop a run. A process pool kills its worker; a tasks executor on
    Celery or RQ has the engine stop it (``tasks.stop_in_engine``). A thread cannot be
    killed, and django-tasks-db's worker has no way to be told."""
    if policy != "cancel_running":
        return
    backend = backend_kind(executor_name)
    if backend == "processpool":
        return
    engine = ""
    if backend == "tasks":
        engine = _tasks_engine(executor_name)
        from django_schedules.tasks import STOPPING_ENGINES

        if engine in STOPPING_ENGINES:
            return
    what = f"{backend!r}" + (f" on {engine}" if engine else "")
    raise InvalidSchedule(
        f"overlap='cancel_running' needs an executor that can stop a run (a process pool, "
        f"or a tasks executor on Celery or RQ); executor {executor_name!r} is {what}, "
        "which cannot",
        "overlap",
    )


def _tasks_engine(executor_name: str) -> str:
    """The engine package of a tasks executor's backend ("" when it cannot be built)."""
    executors: object = conf.SCHEDULES_EXECUTORS
    entry = executors.get(executor_name) if isinstance(executors, dict) else None
    options = entry.get("OPTIONS", {}) if isinstance(entry, dict) else {}
    alias = str(options.get("backend", "default")) if isinstance(options, dict) else "default"
    try:
        from django_schedules.tasks import engine_of

        return engine_of(alias)
    except Exception:  # no tasks framework, or no such backend: the system checks say so
        return ""


def check_executor(
    executor_name: str, queue_name: str, priority: int | None, overlap: str, *, func_name: str
) -> None:
    """``check_routing``, ``check_overlap`` and ``check_script_job``: what a schedule asks
    of its executor."""
    check_routing(executor_name, queue_name, priority)
    check_overlap(overlap, executor_name)
    check_script_job(func_name, executor_name)
