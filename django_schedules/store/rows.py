"""The plain values the claim and the engine's planner pass each other: the store reads
`DueSchedule` rows, the planner answers with a `SchedulePlan` per row, the store records them
and returns `Claimed` executions to dispatch. No model instances, and no engine import."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The planner's values live in plans.py (plain dataclasses, no Django), re-exported here.
from django_schedules.plans import DueSchedule as DueSchedule
from django_schedules.plans import NewExecution as NewExecution
from django_schedules.plans import Planner as Planner
from django_schedules.plans import SchedulePlan as SchedulePlan


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
    queue: str = ""  # the schedule's, for a tasks executor (empty: the executor's own)
    priority: int | None = None


@dataclass
class ClaimResult:
    claimed: list[Claimed] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    more: bool = False
    # Schedules whose running runs overlap=cancel_running stops (after the commit).
    cancel_running: list[int] = field(default_factory=list)
    buffered: bool = False  # it buffered occurrences (overlap buffer_one, buffer_all)
    fenced_out: bool = False
    recorded: int = 0  # executions written, those enqueued inside the claim included
