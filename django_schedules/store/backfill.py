"""A backfill's reads and writes: which of a schedule's past occurrences have a record, and,
in one transaction, a new pending Execution for each that has none and the next attempt of
each recorded ``missed`` or ``skipped`` (backfill.backfill_job composes them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F

from django_schedules.models import Execution, ExecutionKind, ExecutionStatus, Schedule
from django_schedules.store.schedules import locked_schedule, pending_execution
from django_schedules.store.transactions import (
    executions,
    notify_change,
    retry,
    write_transaction,
)

# The statuses a backfill runs again: the occurrence was recorded but never ran.
RERUN_STATUSES = (ExecutionStatus.MISSED, ExecutionStatus.SKIPPED)

# Why a backfilled Execution runs (its ``reason`` until the run ends).
BACKFILL_REASON = "backfill"


@dataclass(frozen=True)
class BackfillWrite:
    """What one backfill wrote: the occurrences recorded anew, those run again as their
    Execution's next attempt, and the others (already recorded, left alone); and the status
    of each occurrence of the range recorded before it wrote, by fire time."""

    created: int
    retried: int
    left_alone: int
    recorded: dict[datetime, str]


def recorded_statuses(
    schedule_pk: int, start: datetime, end: datetime, using: str
) -> dict[datetime, str]:
    """The status of each Execution of the schedule fired in ``[start, end)``, by fire time
    (the unique constraint's index, schedules_one_execution_per_fire, serves it)."""
    rows = executions(using).filter(
        schedule_id=schedule_pk, fire_time__gte=start, fire_time__lt=end
    )
    return dict(rows.values_list("fire_time", "status"))


def write_backfill(
    job_id: str, fire_times: Sequence[datetime], start: datetime, end: datetime
) -> BackfillWrite:
    """In one write transaction, with the schedule's row locked: insert a pending backfill
    Execution for each of `fire_times` (UTC, within ``[start, end)``) not recorded yet, and
    send each recorded ``missed`` or ``skipped`` back to pending as its next attempt (reason
    ``backfill``, kind ``backfill``). Both carry no epoch: the leader adopts them as it adopts
    a manual run. An occurrence recorded otherwise is left alone; an insert that meets an
    occurrence recorded meanwhile is left out (the unique constraint). Raise
    ScheduleNotFound when the schedule is gone."""

    def attempt() -> BackfillWrite:
        with write_transaction() as alias:
            schedule = locked_schedule(job_id, alias)
            before = recorded_statuses(schedule.pk, start, end, alias)
            wanted = set(fire_times)
            again = [f for f, status in before.items() if f in wanted and status in RERUN_STATUSES]
            retried = 0
            if again:
                retried = (
                    executions(alias)
                    .filter(schedule_id=schedule.pk, fire_time__in=again)
                    .filter(status__in=RERUN_STATUSES)
                    .update(
                        status=ExecutionStatus.PENDING,
                        kind=ExecutionKind.BACKFILL,
                        attempt=F("attempt") + 1,
                        reason=BACKFILL_REASON,
                        epoch=None,
                        worker="",
                        started_at=None,
                        finished_at=None,
                        heartbeat_at=None,
                        duration=None,
                    )
                )
            new = [_new_execution(schedule, f) for f in fire_times if f not in before]
            created = 0
            if new:
                counted = executions(alias).filter(schedule_id=schedule.pk)
                had = counted.filter(fire_time__gte=start, fire_time__lt=end).count()
                # A savepoint: a conflict must not abort the transaction on PostgreSQL.
                with transaction.atomic(using=alias):
                    Execution.objects.using(alias).bulk_create(
                        new, batch_size=500, ignore_conflicts=True
                    )
                created = counted.filter(fire_time__gte=start, fire_time__lt=end).count() - had
            if created or retried:
                notify_change(alias)
            left = len(fire_times) - created - retried
            return BackfillWrite(created, retried, left, before)

    return retry(attempt, once_in_transaction=True)


def _new_execution(schedule: Schedule, fire_time: datetime) -> Execution:
    return pending_execution(schedule, fire_time, ExecutionKind.BACKFILL, BACKFILL_REASON)
