"""The API's reads and writes of schedules, and the settings sync.

Each write is a step the API can compose in its own retried transaction
(``retry(..., once_in_transaction=True)`` around ``write_transaction``): ``locked_schedule``
locks a row, ``save_schedule`` writes a change to it (``api._write_change`` composes them);
``locked_sync_rows`` and ``apply_sync_plan`` are the settings sync's (``sync.sync_schedules``).
The store never calls back into the API.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.db.models import OuterRef, Q, Subquery

from django_schedules.exceptions import ScheduleExists, ScheduleNotFound, TriggerError
from django_schedules.models import (
    Calendar,
    Execution,
    ExecutionKind,
    ExecutionStatus,
    Schedule,
    ScheduleSource,
)
from django_schedules.store.executions import cancel_pending
from django_schedules.store.transactions import (
    database_alias,
    notify_change,
    retry,
    write_transaction,
)
from django_schedules.triggers import trigger_from_dict


def find_schedule(job_id: str, using: str | None = None) -> Schedule | None:
    return Schedule.objects.using(database_alias(using)).filter(job_id=job_id).first()


def find_schedules(job_ids: Collection[str], using: str | None = None) -> dict[str, Schedule]:
    """The schedules with these job ids, by job id (those that exist)."""
    rows = Schedule.objects.using(database_alias(using)).filter(job_id__in=list(job_ids))
    return {row.job_id: row for row in rows}


def all_schedules(using: str | None = None) -> Iterator[Schedule]:
    """Every schedule, by job id, read in chunks (an export of a million rows)."""
    rows = Schedule.objects.using(database_alias(using)).order_by("job_id")
    return rows.iterator(chunk_size=2000)


def insert_schedules(
    schedules: list[Schedule], using: str | None = None, calendars: Sequence[Calendar] = ()
) -> None:
    """Insert new, fully validated schedules in one transaction: all of them, or (when a job
    id is taken, say by another process since the caller looked) none, raising ScheduleExists.
    The new exclusion `calendars` they name are inserted first, in the same transaction.
    Notifies the scheduler."""
    with write_transaction(using) as alias:
        if calendars:
            Calendar.objects.using(alias).bulk_create(list(calendars))
        taken = sorted(find_schedules([s.job_id for s in schedules], alias))
        if taken:
            raise _exists(taken[0])
        try:
            with transaction.atomic(using=alias):  # a savepoint: PostgreSQL aborts else
                Schedule.objects.using(alias).bulk_create(schedules, batch_size=500)
        except IntegrityError as exc:  # inserted by another process since the read
            raise ScheduleExists(
                f"a schedule with one of these job ids was created meanwhile: {exc}"
            ) from exc
        if schedules:
            notify_change(alias)


def get_schedule(job_id: str, using: str | None = None) -> Schedule:
    schedule = find_schedule(job_id, using)
    if schedule is None:
        raise ScheduleNotFound(f"no schedule has job id {job_id!r}")
    return schedule


def locked_schedule(job_id: str, using: str | None = None) -> Schedule:
    """The schedule's row, locked until the end of the caller's transaction."""
    alias = database_alias(using)
    schedule = Schedule.objects.using(alias).select_for_update().filter(job_id=job_id).first()
    if schedule is None:
        raise ScheduleNotFound(f"no schedule has job id {job_id!r}")
    return schedule


def save_schedule(schedule: Schedule, changes: dict[str, Any], using: str | None = None) -> bool:
    """Write `changes` (``{field: value}``) to a locked `schedule`, inside the caller's
    transaction; bump ``version`` and notify the scheduler. False: nothing differed, nothing
    was written."""
    changed = {name: value for name, value in changes.items() if getattr(schedule, name) != value}
    if not changed:
        return False
    alias = database_alias(using)
    before = (schedule.trigger, schedule.next_run_at)
    for name, value in changed.items():
        setattr(schedule, name, value)
    if "next_run_at" in changed:
        past_recorded(schedule, *before, alias)
    schedule.version += 1
    schedule.save(using=alias, update_fields=[*changed, "version", "updated_at"])
    notify_change(alias)
    return True


def past_recorded(
    schedule: Schedule, trigger_before: Any, next_before: datetime | None, using: str
) -> None:
    """Move the ``next_run_at`` an edit computed (from now, or as given) past the occurrences
    the schedule has recorded, along its trigger; `trigger_before` and `next_before` are the
    row's before the edit.

    A claim takes an occurrence up to its look-ahead before its instant, and an edit that waited
    for a lock computed "now" earlier still: the next run after that "now" may be an occurrence
    recorded already. Planned again, its insert is dropped by the unique (schedule, fire_time)
    constraint, and when the leader is late so is the ``missed`` row of the run of occurrences
    starting there, which then have no record at all (issue 21). The edit takes effect after
    the last recorded occurrence: for a missed row (a run of occurrences, or one missed at its
    start), the old trigger's last occurrence before the next run the claims left
    (`next_before`), which is at or past the last one the row stands for.
    """
    if schedule.next_run_at is None:
        return
    latest = (
        Execution.objects.using(using)
        .filter(schedule_id=schedule.pk)
        .exclude(kind=ExecutionKind.MANUAL)
        .order_by("-fire_time")
        .values_list("fire_time", "status")
        .first()
    )
    if latest is None:
        return
    last, status = latest
    if status == ExecutionStatus.MISSED:
        last = _last_before(trigger_before, last, next_before)
    trigger = trigger_from_dict(schedule.trigger)
    fire: datetime | None = schedule.next_run_at
    for _ in range(_MAX_WALK):
        if fire is None or fire > last:
            break
        fire = trigger.get_next_fire_time(fire, fire)
    schedule.next_run_at = None if fire is None else fire.astimezone(UTC)


def _last_before(trigger: Any, first: datetime, end: datetime | None) -> datetime:
    """The last occurrence of `trigger` (a stored dict) from `first` on before `end` (to its
    end when None); `first` when the trigger cannot be read."""
    try:
        walked = trigger_from_dict(trigger)
    except (TriggerError, KeyError, TypeError, ValueError):
        return first  # a broken trigger, parked: this edit may be its repair
    last: datetime = first
    fire: datetime | None = first
    for _ in range(_MAX_WALK):
        if fire is None or (end is not None and fire >= end):
            break
        last, fire = fire, walked.get_next_fire_time(fire, fire)
    return last


# How far past_recorded walks a trigger (the planner's MAX_WALK).
_MAX_WALK = 100_000


def list_schedules(using: str | None = None) -> list[Schedule]:
    """Every schedule, soonest next run first (paused and exhausted ones last).

    Each carries ``last_status``, ``last_fire_time`` and ``last_finished_at`` from its latest
    execution (None when it never ran), in the same single query.
    """
    alias = database_alias(using)
    latest = (
        Execution.objects.using(alias).filter(schedule=OuterRef("pk")).order_by("-fire_time", "-id")
    )
    rows = Schedule.objects.using(alias).annotate(
        last_status=Subquery(latest.values("status")[:1]),
        last_fire_time=Subquery(latest.values("fire_time")[:1]),
        last_finished_at=Subquery(latest.values("finished_at")[:1]),
    )
    # NULL sorts first on some databases and last on others: put "never" last everywhere.
    return sorted(
        rows,
        key=lambda s: (not s.enabled, s.next_run_at is None, s.next_run_at or _EPOCH, s.job_id),
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def schedule_owners(using: str | None = None) -> list[tuple[str, str, str]]:
    """``(job_id, source, group)`` of every schedule, by job id: who made each."""
    rows = Schedule.objects.using(database_alias(using)).order_by("job_id")
    return list(rows.values_list("job_id", "source", "group"))


def insert_schedule(
    schedule: Schedule,
    *,
    replace_existing: bool,
    same: Callable[[Schedule], bool] | None = None,
) -> tuple[Schedule, bool]:
    """Save a new, fully validated schedule; with ``replace_existing`` overwrite the row that
    has its job id (keeping its primary key, history and creation time), unless ``same`` says
    the row already is this schedule: then nothing is written.

    Returns the schedule and whether it was written. Raises ScheduleExists, writing nothing,
    when the id is taken and ``replace_existing`` is False. Notifies the scheduler.
    """

    def attempt() -> tuple[Schedule, bool]:
        schedule.pk, schedule.version = None, 1  # a fresh start on a retry
        with write_transaction() as alias:
            existing = (
                Schedule.objects.using(alias)
                .select_for_update()
                .filter(job_id=schedule.job_id)
                .first()
            )
            if existing is None:
                try:
                    with transaction.atomic(using=alias):  # a savepoint: PostgreSQL aborts else
                        schedule.save(using=alias, force_insert=True)
                except IntegrityError as exc:
                    # Another process inserted this id between our read and our insert.
                    if not replace_existing:
                        raise _exists(schedule.job_id) from exc
                    existing = locked_schedule(schedule.job_id, alias)
            if existing is not None:
                if not replace_existing:
                    raise _exists(schedule.job_id)
                if same is not None and same(existing):
                    return existing, False
                schedule.pk = existing.pk
                schedule.created_at = existing.created_at
                past_recorded(schedule, existing.trigger, existing.next_run_at, alias)
                schedule.version = existing.version + 1
                schedule.save(using=alias, force_update=True)
            notify_change(alias)
        return schedule, True

    return retry(attempt, once_in_transaction=True)


def _exists(job_id: str) -> ScheduleExists:
    return ScheduleExists(
        f"a schedule with job id {job_id!r} already exists; pass replace_existing=True to "
        "replace it"
    )


# The reason recorded on a removed schedule's executions that had not started.
REMOVED_BEFORE_START = "skipped: the schedule was removed before this run started"


def delete_schedule(job_id: str, now: datetime) -> Schedule:
    """Delete a schedule; its executions stay, with ``schedule`` set to NULL. Those not yet
    started (claimed ahead, or run-now) are finished as skipped in the same transaction: a
    removed schedule runs nothing more."""

    def attempt() -> Schedule:
        with write_transaction() as alias:
            schedule = locked_schedule(job_id, alias)
            cancel_pending(schedule.pk, REMOVED_BEFORE_START, now, alias)
            Schedule.objects.using(alias).filter(pk=schedule.pk).delete()
            notify_change(alias)
        return schedule

    return retry(attempt, once_in_transaction=True)


def insert_manual_execution(job_id: str, now: datetime) -> Execution:
    """Record a pending manual execution of the schedule, fired at ``now``."""

    def attempt() -> Execution:
        with write_transaction() as alias:
            schedule = locked_schedule(job_id, alias)
            fire_time = now
            for _ in range(10):
                execution = pending_execution(schedule, fire_time, ExecutionKind.MANUAL)
                try:
                    with transaction.atomic(using=alias):
                        execution.save(using=alias, force_insert=True)
                    break
                except IntegrityError:
                    # The (schedule, fire_time) pair is taken (two clicks in one microsecond, or a
                    # scheduled fire at this very instant): a manual run is its own occurrence.
                    fire_time += timedelta(microseconds=1)
            else:  # pragma: no cover - ten collisions in a row
                raise RuntimeError(f"could not record a manual execution of {job_id!r}")
            notify_change(alias)
        return execution

    return retry(attempt, once_in_transaction=True)


def schedules_table_exists(using: str | None = None) -> bool:
    connection = connections[database_alias(using)]
    with connection.cursor() as cursor:
        return Schedule._meta.db_table in connection.introspection.table_names(cursor)


def unregistered_schedules(
    registered: Collection[str], using: str | None = None
) -> list[tuple[str, str]]:
    """``(job_id, callable name)`` of each schedule whose callable is not in ``registered``."""
    return list(
        Schedule.objects.using(database_alias(using))
        .exclude(func__in=list(registered))
        .order_by("job_id")
        .values_list("job_id", "func")
    )


# The settings sync.


@dataclass
class SyncPlan:
    """What a sync writes: new rows, changed rows (with the fields that changed), disabled
    rows, and the declared ids left alone because a schedule not from settings holds them."""

    create: list[Schedule] = field(default_factory=list)
    update: list[tuple[Schedule, list[str]]] = field(default_factory=list)
    disable: list[Schedule] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.create or self.update or self.disable)


def locked_sync_rows(
    declared_ids: Collection[str], using: str | None = None
) -> dict[str, Schedule]:
    """Lock the schedules a sync may touch: the declared ids, and every row from settings."""
    return {
        s.job_id: s
        for s in Schedule.objects.using(database_alias(using))
        .select_for_update()
        .filter(Q(job_id__in=list(declared_ids)) | Q(source=ScheduleSource.SETTINGS))
    }


def apply_sync_plan(plan: SyncPlan, using: str | None = None) -> None:
    """Write `plan` inside the caller's transaction, and notify the scheduler."""
    alias = database_alias(using)
    for schedule in plan.create:
        schedule.save(using=alias, force_insert=True)
    for schedule, fields in plan.update:
        if "next_run_at" in fields:
            trigger, next_run_at = (
                Schedule.objects.using(alias)
                .filter(pk=schedule.pk)
                .values_list("trigger", "next_run_at")
                .get()
            )
            past_recorded(schedule, trigger, next_run_at, alias)
        schedule.version += 1
        schedule.save(using=alias, update_fields=[*fields, "version", "updated_at"])
    for schedule in plan.disable:
        schedule.version += 1
        schedule.save(using=alias, update_fields=["enabled", "last_error", "version", "updated_at"])
    if plan.changed:
        notify_change(alias)


def pending_execution(
    schedule: Schedule, fire_time: datetime, kind: str, reason: str = ""
) -> Execution:
    """An unsaved, pending Execution of `schedule` at `fire_time`, run at once (a manual run,
    a backfilled occurrence): the call copied from the schedule as it is now, no epoch, so
    the leader adopts it."""
    return Execution(
        schedule=schedule,
        job_id=schedule.job_id,
        name=schedule.name,
        func=schedule.func,
        args=schedule.args,
        kwargs=schedule.kwargs,
        fire_time=fire_time,
        run_at=fire_time,  # past or now: it starts as soon as a worker takes it
        kind=kind,
        status=ExecutionStatus.PENDING,
        reason=reason,
        executor=schedule.executor,
    )
