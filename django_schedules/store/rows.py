"""The plain values the claim and the engine's planner pass each other: the store reads
`DueSchedule` rows, the planner answers with a `SchedulePlan` per row, the store records them
and returns `Claimed` executions to dispatch. No model instances, and no engine import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django_schedules.models import ExecutionKind, ExecutionStatus


@dataclass
class NewExecution:
    """An Execution the planner wants recorded for a schedule."""

    fire_time: datetime
    kind: str = ExecutionKind.SCHEDULED
    status: str = ExecutionStatus.PENDING
    reason: str = ""
    run_at: datetime | None = None


@dataclass
class SchedulePlan:
    """What the planner decided for one due schedule: its new next_run_at and its rows."""

    next_run_at: datetime | None
    executions: list[NewExecution] = field(default_factory=list)
    error: str = ""


@dataclass
class Claimed:
    """A pending execution to hand to an executor at `run_at`."""

    execution_id: int
    schedule_id: int | None
    executor: str
    fire_time: datetime
    run_at: datetime
    timeout: float | None = None
    job_id: str = ""


@dataclass
class ClaimResult:
    fenced_out: bool = False
    claimed: list[Claimed] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    more: bool = False


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


Planner = Callable[[DueSchedule, int], SchedulePlan]
