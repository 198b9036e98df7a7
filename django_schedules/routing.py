"""Where a ``tasks`` executor sends a schedule's runs: the per-schedule ``queue`` and
``priority`` (declared in options.py) checked against the executor's backend when written."""

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


def check_overlap(policy: str, executor_name: str) -> None:
    """Raise InvalidSchedule (field ``overlap``) for ``overlap="cancel_running"`` on an
    executor that cannot stop a run: only a process pool kills its worker. A thread cannot
    be killed, and a tasks worker is another process that nothing here can stop."""
    if policy != "cancel_running":
        return
    executors: object = conf.SCHEDULES_EXECUTORS
    entry = executors.get(executor_name) if isinstance(executors, dict) else None
    backend = str(entry.get("BACKEND", "threadpool")) if isinstance(entry, dict) else ""
    from django_schedules.executors.base import BACKENDS

    if BACKENDS.get(backend, backend) != BACKENDS["processpool"]:
        raise InvalidSchedule(
            f"overlap='cancel_running' needs an executor that can stop a run (a process "
            f"pool); executor {executor_name!r} is {backend!r}, which cannot",
            "overlap",
        )


def check_executor(executor_name: str, queue_name: str, priority: int | None, overlap: str) -> None:
    """``check_routing`` and ``check_overlap``: what a schedule asks of its executor."""
    check_routing(executor_name, queue_name, priority)
    check_overlap(overlap, executor_name)
