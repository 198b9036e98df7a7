"""APScheduler 3's event masks and event objects, over our signals.

``add_listener(callback, mask)`` on a scheduler object calls ``callback(event)`` for the events
in ``mask``. The codes and their values are APScheduler 3's (``apscheduler.events``), so code
that ORs them together keeps working. Where an event has no counterpart here it is listed in
``UNMAPPED`` and never sent: executors and job stores are not added at run time, and a missed
or skipped occurrence is recorded by the claim as an ``Execution`` row (status ``missed`` or
``skipped``) rather than announced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger("django_schedules.schedulers")

EVENT_SCHEDULER_STARTED = EVENT_SCHEDULER_START = 2**0
EVENT_SCHEDULER_SHUTDOWN = 2**1
EVENT_SCHEDULER_PAUSED = 2**2
EVENT_SCHEDULER_RESUMED = 2**3
EVENT_EXECUTOR_ADDED = 2**4
EVENT_EXECUTOR_REMOVED = 2**5
EVENT_JOBSTORE_ADDED = 2**6
EVENT_JOBSTORE_REMOVED = 2**7
EVENT_ALL_JOBS_REMOVED = 2**8
EVENT_JOB_ADDED = 2**9
EVENT_JOB_REMOVED = 2**10
EVENT_JOB_MODIFIED = 2**11
EVENT_JOB_EXECUTED = 2**12
EVENT_JOB_ERROR = 2**13
EVENT_JOB_MISSED = 2**14
EVENT_JOB_SUBMITTED = 2**15
EVENT_JOB_MAX_INSTANCES = 2**16
EVENT_ALL = (
    EVENT_SCHEDULER_STARTED
    | EVENT_SCHEDULER_SHUTDOWN
    | EVENT_SCHEDULER_PAUSED
    | EVENT_SCHEDULER_RESUMED
    | EVENT_EXECUTOR_ADDED
    | EVENT_EXECUTOR_REMOVED
    | EVENT_JOBSTORE_ADDED
    | EVENT_JOBSTORE_REMOVED
    | EVENT_ALL_JOBS_REMOVED
    | EVENT_JOB_ADDED
    | EVENT_JOB_REMOVED
    | EVENT_JOB_MODIFIED
    | EVENT_JOB_EXECUTED
    | EVENT_JOB_ERROR
    | EVENT_JOB_MISSED
    | EVENT_JOB_SUBMITTED
    | EVENT_JOB_MAX_INSTANCES
)
# The codes that are never sent (see the module docstring).
UNMAPPED = (
    EVENT_EXECUTOR_ADDED
    | EVENT_EXECUTOR_REMOVED
    | EVENT_JOBSTORE_ADDED
    | EVENT_JOBSTORE_REMOVED
    | EVENT_JOB_MISSED
    | EVENT_JOB_MAX_INSTANCES
)

# schedule_changed's action -> the event code.
ACTIONS = {
    "added": EVENT_JOB_ADDED,
    "modified": EVENT_JOB_MODIFIED,
    "rescheduled": EVENT_JOB_MODIFIED,
    "paused": EVENT_JOB_MODIFIED,
    "resumed": EVENT_JOB_MODIFIED,
    "synced": EVENT_JOB_MODIFIED,
    "removed": EVENT_JOB_REMOVED,
}


@dataclass(frozen=True)
class SchedulerEvent:
    """An event about the scheduler (``code``: one of the ``EVENT_*`` values)."""

    code: int
    alias: str | None = None


@dataclass(frozen=True)
class JobEvent(SchedulerEvent):
    """An event about a schedule: added, modified (paused and resumed too) or removed."""

    job_id: str | None = None
    jobstore: str = "default"


@dataclass(frozen=True)
class JobSubmissionEvent(JobEvent):
    """A run started (APScheduler: submitted to its executor); ``scheduled_run_times`` holds
    its nominal fire time."""

    scheduled_run_times: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class JobExecutionEvent(JobEvent):
    """A run ended: ``EVENT_JOB_EXECUTED`` with ``retval`` (the short result we keep, as
    text), or ``EVENT_JOB_ERROR`` with ``traceback`` (text; ``exception`` is None: the
    exception object lives in the process that ran the job, and only its text is kept)."""

    scheduled_run_time: datetime | None = None
    retval: Any = None
    exception: BaseException | None = None
    traceback: str | None = None


Listener = Callable[[SchedulerEvent], object]


class Listeners:
    """Callbacks with their masks; ``dispatch`` calls each whose mask has the event's code.

    A callback that raises is logged, never propagated (as APScheduler does)."""

    def __init__(self) -> None:
        self._entries: list[tuple[Listener, int]] = []

    def add(self, callback: Listener, mask: object) -> None:
        if not callable(callback):
            raise TypeError(f"listener must be callable, got {callback!r}")
        if isinstance(mask, bool) or not isinstance(mask, int) or not 0 < mask <= EVENT_ALL:
            raise ValueError(
                f"mask must be an OR of EVENT_* codes (1 to EVENT_ALL={EVENT_ALL}), got {mask!r}"
            )
        self._entries.append((callback, int(mask)))

    def remove(self, callback: Listener) -> None:
        before = len(self._entries)
        self._entries = [(cb, mask) for cb, mask in self._entries if cb != callback]
        if len(self._entries) == before:
            raise ValueError(f"listener {callback!r} was not added")

    def __bool__(self) -> bool:
        return bool(self._entries)

    def dispatch(self, event: SchedulerEvent) -> None:
        for callback, mask in list(self._entries):
            if event.code & mask:
                try:
                    callback(event)
                except Exception:
                    logger.exception("listener %r raised on event %d", callback, event.code)


def schedule_event(action: str, job_id: str) -> JobEvent | None:
    code = ACTIONS.get(action)
    return None if code is None else JobEvent(code, job_id=job_id)


def execution_event(execution: Any, *, failed: bool) -> JobExecutionEvent:
    """The event for a finished ``Execution`` row: error when ``failed`` else executed."""
    if failed:
        return JobExecutionEvent(
            EVENT_JOB_ERROR,
            job_id=execution.job_id,
            scheduled_run_time=execution.fire_time,
            traceback=execution.traceback or execution.reason or None,
        )
    return JobExecutionEvent(
        EVENT_JOB_EXECUTED,
        job_id=execution.job_id,
        scheduled_run_time=execution.fire_time,
        retval=execution.result,
    )
