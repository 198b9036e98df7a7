"""The planner's values: a due schedule as the claim reads it, and the plan for it. Plain
dataclasses with no Django import, so the planner runs and is tested without a database and
the store records plans without importing the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django_schedules.calendars import Calendar

# The values of models.MisfirePolicy, ExecutionKind and ExecutionStatus the planner uses
# (tests/planner checks that they agree).
RUN_ONCE, SKIP, RUN_ALL = "run_once", "skip", "run_all"
SCHEDULED, CATCH_UP = "scheduled", "catch_up"
PENDING, FAILED, MISSED, SKIPPED = "pending", "failed", "missed", "skipped"
BUFFERED = "buffered"
# The values of models.OverlapPolicy.
NO_OVERLAP_POLICY, OVERLAP_SKIP, BUFFER_ONE, BUFFER_ALL, CANCEL_RUNNING, ALLOW = (
    "",
    "skip",
    "buffer_one",
    "buffer_all",
    "cancel_running",
    "allow",
)
BUFFERING = frozenset({BUFFER_ONE, BUFFER_ALL})
# How many occurrences buffer_all keeps waiting; the next ones are skipped, with the reason.
MAX_BUFFERED = 100
# Why a schedule at its max_runs is paused, and why a run past it is skipped.
RUN_LIMIT_REASON = "run limit reached: max_runs={limit} runs started"
# Why an occurrence inside an exclusion calendar was skipped (docs/calendars.md).
CALENDAR_REASON = "inside calendar {name!r}: not run (and none of its occurrences until {until})"
# Exclusion windows one plan records a skipped row for; past them it waits for its next claim.
MAX_CALENDAR_SKIPS = 100
# Why a schedule with pause_after_failures was paused.
FAILURES_REASON = "paused after {failures} failed runs in a row (pause_after_failures={limit})"


@dataclass(slots=True)
class DueSchedule:
    """A due schedule as the claim reads it: only the columns the planner and the claim use,
    with the trigger and the arguments left as JSON text (the planner parses them only when
    its caches do not already know that text)."""

    pk: int
    version: int
    job_id: str
    name: str
    func: str
    executor: str
    trigger: str
    args: str
    kwargs: str
    misfire_grace_time: int | None
    misfire_policy: str
    max_instances: int
    timeout: float | None
    next_run_at: datetime | None
    queue: str = ""  # where a tasks executor sends the run (empty: the executor's own)
    priority: int | None = None
    max_runs: int | None = None
    runs_started: int = 0
    overlap: str = NO_OVERLAP_POLICY
    calendar_names: str = "[]"  # the names of its exclusion calendars, as JSON text
    # Not columns: its exclusion calendars, parsed (store.calendars.attach_calendars), and
    # its buffered executions, counted with its live ones (claim.live_counts).
    calendars: tuple[Calendar, ...] = ()
    buffered: int = 0


@dataclass
class NewExecution:
    """An Execution the planner wants recorded for a schedule."""

    fire_time: datetime
    kind: str = SCHEDULED
    status: str = PENDING
    reason: str = ""
    run_at: datetime | None = None


@dataclass
class SchedulePlan:
    """What the planner decided for one due schedule: its new next_run_at and its rows."""

    next_run_at: datetime | None
    executions: list[NewExecution] = field(default_factory=list)
    error: str = ""
    # Not empty: the claim pauses the schedule (enabled=False) with this as its pause_reason.
    pause_reason: str = ""
    # Occurrences skipped, and buffered, because a run was still going (counted on the row).
    overlap_skipped: int = 0
    overlap_buffered: int = 0
    # overlap=cancel_running met a run still going: stop it (and skip what has not started).
    cancel_running: bool = False


Planner = Callable[[DueSchedule, int], SchedulePlan]
