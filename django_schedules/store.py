"""Every query the engine and the API run. Nothing else in the package does SQL.

Each function honours ``SCHEDULES_DATABASE``: querysets use ``.using(alias)`` and transactions
``transaction.atomic(using=alias)`` (through ``write_transaction``, which also makes SQLite take
its write lock up front).
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)
from django.db.backends.signals import connection_created
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    Min,
    OuterRef,
    Q,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from django_schedules.conf import conf
from django_schedules.dbclock import DbNow
from django_schedules.exceptions import ScheduleExists, ScheduleNotFound
from django_schedules.models import (
    FINISHED_STATUSES,
    Execution,
    ExecutionKind,
    ExecutionStatus,
    Schedule,
    SchedulerLease,
    SchedulerProcess,
    ScheduleSource,
)

# The planner's values (plans.py has no Django import), re-exported where they were.
from django_schedules.plans import DueSchedule as DueSchedule
from django_schedules.plans import NewExecution as NewExecution
from django_schedules.plans import Planner as Planner
from django_schedules.plans import SchedulePlan as SchedulePlan

_R = TypeVar("_R")

# The PostgreSQL LISTEN/NOTIFY channel the scheduler listens on to wake early.
NOTIFY_CHANNEL = "django_schedules"


def database_alias(using: str | None = None) -> str:
    return using or conf.SCHEDULES_DATABASE


# --- API-side queries ---


@contextmanager
def write_transaction(using: str | None = None) -> Iterator[str]:
    """``transaction.atomic`` on the app's alias; on SQLite, ``BEGIN IMMEDIATE``.

    In SQLite's default DEFERRED mode a transaction that reads and then writes fails at once
    with "database is locked" when another writer got there first (the busy timeout does not
    apply to a lock upgrade); IMMEDIATE takes the write lock at BEGIN, where the busy timeout
    does apply. Inside an outer ``atomic`` block this is a savepoint of that transaction.
    Yields the alias.
    """
    alias = database_alias(using)
    connection = connections[alias]
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic(using=alias):
            yield alias
        return
    connection.ensure_connection()  # the mode is read from OPTIONS when a connection opens
    original = connection.transaction_mode  # type: ignore[attr-defined]
    connection.transaction_mode = "IMMEDIATE"  # type: ignore[attr-defined]
    try:
        with transaction.atomic(using=alias):
            yield alias
    finally:
        connection.transaction_mode = original  # type: ignore[attr-defined]


def notify_change(using: str | None = None) -> None:
    """Tell a sleeping scheduler that schedules changed; call inside the writing transaction.

    PostgreSQL delivers ``pg_notify`` at commit (and drops it on rollback). Other databases
    need nothing here: the scheduler notices changes by polling.
    """
    alias = database_alias(using)
    connection = connections[alias]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])


def _retrying(attempt: Callable[[], _R]) -> _R:
    """Run ``attempt`` (one whole write transaction), retrying a lock conflict (a MariaDB
    deadlock, SQLite's busy timeout) with backoff; inside the caller's own transaction a retry
    is impossible, so it runs once."""
    alias = database_alias()
    if connections[alias].in_atomic_block:
        return attempt()
    return retry_locked(attempt, using=alias)


def find_schedule(job_id: str, using: str | None = None) -> Schedule | None:
    return Schedule.objects.using(database_alias(using)).filter(job_id=job_id).first()


def get_schedule(job_id: str, using: str | None = None) -> Schedule:
    schedule = find_schedule(job_id, using)
    if schedule is None:
        raise ScheduleNotFound(f"no schedule has job id {job_id!r}")
    return schedule


def _locked(alias: str, job_id: str) -> Schedule:
    schedule = Schedule.objects.using(alias).select_for_update().filter(job_id=job_id).first()
    if schedule is None:
        raise ScheduleNotFound(f"no schedule has job id {job_id!r}")
    return schedule


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
                    existing = _locked(alias, schedule.job_id)
            if existing is not None:
                if not replace_existing:
                    raise _exists(schedule.job_id)
                if same is not None and same(existing):
                    return existing, False
                schedule.pk = existing.pk
                schedule.created_at = existing.created_at
                schedule.version = existing.version + 1
                schedule.save(using=alias, force_update=True)
            notify_change(alias)
        return schedule, True

    return _retrying(attempt)


def _exists(job_id: str) -> ScheduleExists:
    return ScheduleExists(
        f"a schedule with job id {job_id!r} already exists; pass replace_existing=True to "
        "replace it"
    )


def change_schedule(
    job_id: str, change: Callable[[Schedule], dict[str, Any]]
) -> tuple[Schedule, bool]:
    """Lock the schedule, ask ``change`` for the new field values, and write them.

    ``change`` receives the locked row and returns ``{field: value}``; it may raise to abort
    with nothing written. An empty dict writes nothing. Returns the schedule and whether it
    was written. Bumps ``version`` and notifies the scheduler when something changed.
    """

    def attempt() -> tuple[Schedule, bool]:
        with write_transaction() as alias:
            schedule = _locked(alias, job_id)
            changes = change(schedule)
            changed = {
                name: value for name, value in changes.items() if getattr(schedule, name) != value
            }
            if not changed:
                return schedule, False
            for name, value in changed.items():
                setattr(schedule, name, value)
            schedule.version += 1
            schedule.save(using=alias, update_fields=[*changed, "version", "updated_at"])
            notify_change(alias)
        return schedule, True

    return _retrying(attempt)


def delete_schedule(job_id: str) -> Schedule:
    """Delete a schedule; its executions stay, with ``schedule`` set to NULL."""

    def attempt() -> Schedule:
        with write_transaction() as alias:
            schedule = _locked(alias, job_id)
            Schedule.objects.using(alias).filter(pk=schedule.pk).delete()
            notify_change(alias)
        return schedule

    return _retrying(attempt)


def insert_manual_execution(job_id: str, now: datetime) -> Execution:
    """Record a pending manual execution of the schedule, fired at ``now``."""

    def attempt() -> Execution:
        with write_transaction() as alias:
            schedule = _locked(alias, job_id)
            fire_time = now
            for _ in range(10):
                execution = Execution(
                    schedule=schedule,
                    job_id=schedule.job_id,
                    name=schedule.name,
                    func=schedule.func,
                    fire_time=fire_time,
                    run_at=fire_time,
                    kind=ExecutionKind.MANUAL,
                    status=ExecutionStatus.PENDING,
                    executor=schedule.executor,
                )
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

    return _retrying(attempt)


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


def sync_settings_schedules(
    declared_ids: Collection[str],
    plan: Callable[[dict[str, Schedule]], SyncPlan],
    *,
    dry_run: bool = False,
) -> SyncPlan:
    """Lock the schedules a sync may touch (declared ids, and every row from settings), let
    ``plan`` decide, and apply its plan in the same transaction (rolled back on dry runs)."""
    with write_transaction() as alias:
        rows = {
            s.job_id: s
            for s in Schedule.objects.using(alias)
            .select_for_update()
            .filter(Q(job_id__in=list(declared_ids)) | Q(source=ScheduleSource.SETTINGS))
        }
        result = plan(rows)
        if dry_run:
            return result
        for schedule in result.create:
            schedule.save(using=alias, force_insert=True)
        for schedule, fields in result.update:
            schedule.version += 1
            schedule.save(using=alias, update_fields=[*fields, "version", "updated_at"])
        for schedule in result.disable:
            schedule.version += 1
            schedule.save(
                using=alias, update_fields=["enabled", "last_error", "version", "updated_at"]
            )
        if result.changed:
            notify_change(alias)
    return result


def celery_beat_tasks() -> list[Any]:
    """django-celery-beat's PeriodicTask rows with their schedules (the peer app's database)."""
    from django_celery_beat.models import PeriodicTask

    return list(
        PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked").order_by(
            "name"
        )
    )


def apscheduler_job_ids() -> list[tuple[str, datetime | None]]:
    """django-apscheduler's job ids and next run times. Never its pickled ``job_state``."""
    from django_apscheduler.models import DjangoJob  # type: ignore[import-not-found]

    return list(DjangoJob.objects.order_by("id").values_list("id", "next_run_time"))


# --- Engine queries ---

logger = logging.getLogger("django_schedules.store")

_T = TypeVar("_T")


def _is_lock_error(exc: BaseException) -> bool:
    """True for a transient lock conflict worth retrying on any of our three databases."""
    text = str(exc).lower()
    if "database is locked" in text or "database table is locked" in text:
        return True  # SQLite: the busy timeout ran out.
    code = exc.args[0] if exc.args else None
    # MySQL/MariaDB: 1213 deadlock, 1205 lock wait timeout; PostgreSQL: a deadlock.
    return code in (1213, 1205) or "deadlock detected" in text


def retry_locked(
    func: Callable[[], _T], *, using: str, attempts: int = 8, first_delay: float = 0.01
) -> _T:
    """Call `func` (one whole transaction), retrying a lock conflict with backoff.

    A lock conflict is normal under contention: logged at debug level, never as an error; the
    last one is re-raised.
    """
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except (OperationalError, DatabaseError) as exc:
            if attempt == attempts or not _is_lock_error(exc):
                raise
            delay = first_delay * 2 ** (attempt - 1) * (0.5 + random.random())  # noqa: S311
            logger.debug("lock conflict on %r (attempt %d), retry in %.3fs", using, attempt, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


# Transactions a frozen process leaves open.


def abort_idle_transactions(using: str, seconds: float) -> Callable[[], None]:
    """Have the server abort a transaction of this thread's connection on `using` once it has
    waited `seconds` for its client, on this connection and on each one the thread opens
    later; return a function that stops doing so for new connections.

    A process frozen inside a transaction (SIGSTOP, a paused VM, a swap storm) holds its row
    locks for as long as it is frozen: the scheduler loop's claim locks the lease row, so a
    standby could not take the lease over. PostgreSQL's
    ``idle_in_transaction_session_timeout`` and MariaDB's ``idle_transaction_timeout`` end
    such a session, its transaction rolls back whole, and the frozen process, once resumed,
    finds its connection gone and its lease taken. Our loop never waits inside a transaction.
    MySQL has no such setting, and on SQLite the lock is the file's (docs/guarantees.md).
    """
    thread = threading.get_ident()

    def on_created(sender: object, connection: Any, **kwargs: object) -> None:
        if connection.alias == using and threading.get_ident() == thread:
            _set_idle_transaction_timeout(connection, seconds)

    connection_created.connect(on_created, weak=False)
    if connections[using].connection is not None:
        _set_idle_transaction_timeout(connections[using], seconds)

    def stop() -> None:
        connection_created.disconnect(on_created)

    return stop


def _set_idle_transaction_timeout(connection: Any, seconds: float) -> None:
    if connection.vendor == "postgresql":
        sql = f"SET idle_in_transaction_session_timeout = {max(int(seconds * 1000), 1)}"
    elif connection.vendor == "mysql" and connection.mysql_is_mariadb:
        sql = f"SET SESSION idle_transaction_timeout = {max(round(seconds), 1)}"
    else:
        return
    with connection.cursor() as cursor:
        cursor.execute(sql)


# The lease.


def take_lease(group: str, owner: str, ttl: timedelta, using: str) -> int | None:
    """Take the group's lease when it is free or expired by the database's clock.

    Return the new epoch (grown by one), or None when another holder has it. A lease `owner`
    holds already counts as free: after a pass that failed (its claim may have landed unseen,
    an ambiguous commit) the holder re-takes it under a new epoch at once, and so adopts what
    the failed pass left pending.
    """
    free_for_us = _FREE | Q(owner=owner)

    def attempt() -> int | None:
        with write_transaction(using):
            leases = SchedulerLease.objects.using(using)
            taken = leases.filter(Q(group=group) & free_for_us).update(
                owner=owner,
                epoch=F("epoch") + 1,
                expires_at=DbNow() + ttl,
                acquired_at=DbNow(),
                renewed_at=DbNow(),
            )
            if taken != 1:
                return None
            return leases.filter(group=group, owner=owner).values_list("epoch", flat=True).get()

    # A standby asks every poll interval: a plain read, so it takes no write lock (SQLite)
    # while the lease is held; only a lease that looks free is worth the CAS.
    free = (
        SchedulerLease.objects.using(using)
        .filter(group=group)
        .annotate(free=Case(When(free_for_us, then=Value(True)), default=Value(False)))
        .values_list("free", flat=True)
        .first()
    )
    if free is None:
        try:
            with transaction.atomic(using=using):
                SchedulerLease.objects.using(using).create(group=group)
        except IntegrityError:
            pass  # Another process created it first: normal.
    elif not free:
        return None
    return retry_locked(attempt, using=using)


_FREE = Q(owner="") | Q(expires_at__isnull=True) | Q(expires_at__lte=DbNow())


def renew_lease(group: str, owner: str, epoch: int, ttl: timedelta, using: str) -> bool:
    """Extend the lease we hold. False means we lost it: stop firing at once.

    Renewing an expired lease nobody took is safe: a new holder would have bumped the epoch.
    """
    qs = SchedulerLease.objects.using(using).filter(group=group, owner=owner, epoch=epoch)
    return retry_locked(
        lambda: qs.update(expires_at=DbNow() + ttl, renewed_at=DbNow()) == 1, using=using
    )


def release_lease(group: str, owner: str, epoch: int, using: str) -> bool:
    """Give the lease up so a standby takes it at once; False if it was no longer ours."""
    qs = SchedulerLease.objects.using(using).filter(group=group, owner=owner, epoch=epoch)
    return retry_locked(lambda: qs.update(owner="", expires_at=None) == 1, using=using)


def _fence(group: str, owner: str, epoch: int, using: str) -> bool:
    """Inside a claim transaction: do we still hold the lease, unexpired, at this epoch?

    The row lock (FOR UPDATE; SQLite's IMMEDIATE transaction serialises anyway) makes a
    standby's take wait for this transaction, so a claim and a take never interleave.
    """
    qs = (
        SchedulerLease.objects.using(using)
        .select_for_update()
        .filter(group=group, owner=owner, epoch=epoch, expires_at__gt=DbNow())
        .values_list("pk", flat=True)
    )
    return bool(list(qs[:1]))


# The idle probe.


@dataclass(frozen=True)
class Probe:
    """What one idle tick learns: do we still hold the lease, when is the next firing, and
    does a manual run wait."""

    holds_lease: bool
    earliest: datetime | None
    manual_pending: bool


def _probe_queryset(group: str, owner: str, epoch: int, using: str) -> Any:
    earliest = (
        Schedule.objects.using(using)
        .filter(enabled=True, next_run_at__isnull=False)
        .order_by("next_run_at")
        .values("next_run_at")[:1]
    )
    manual = Execution.objects.using(using).filter(
        status=ExecutionStatus.PENDING, epoch__isnull=True
    )
    return (
        SchedulerLease.objects.using(using)
        .filter(group=group)
        .annotate(
            earliest=Subquery(earliest, output_field=DateTimeField()),
            manual=Exists(manual),
            mine=Case(
                When(Q(owner=owner, epoch=epoch, expires_at__gt=DbNow()), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
        )
        .values_list("mine", "earliest", "manual")[:1]
    )


# Stand-ins compiled into the cached probe SQL, replaced by the real values on each call.
_PROBE_GROUP, _PROBE_OWNER, _PROBE_EPOCH = (
    "\x00schedules-group",
    "\x00schedules-owner",
    7_770_001_357,  # within PositiveBigIntegerField: out of range, the ORM folds it away
)


_PROBE_SENTINELS = (_PROBE_GROUP, _PROBE_OWNER, _PROBE_EPOCH)


@dataclass(frozen=True)
class _CompiledProbe:
    sql: str
    params: tuple[Any, ...]
    converters: list[Any]


_probe_sql: dict[tuple[str, str], _CompiledProbe] = {}


def _compiled_probe(using: str) -> _CompiledProbe:
    """The probe's SQL, compiled once per process and database (building the annotated
    queryset cost more than running it)."""
    connection = connections[using]
    key = (using, connection.vendor)
    found = _probe_sql.get(key)
    if found is None:
        compiler = _probe_queryset(
            _PROBE_GROUP, _PROBE_OWNER, _PROBE_EPOCH, using
        ).query.get_compiler(using)
        sql, params = compiler.as_sql()
        expressions = [selected[0] for selected in compiler.select]
        converters = [
            [(c, e) for c in connection.ops.get_db_converters(e) + e.get_db_converters(connection)]
            for e in expressions
        ]
        found = _CompiledProbe(sql, tuple(params), converters)
        if sorted(map(str, (p for p in params if p in _PROBE_SENTINELS))) != sorted(
            map(str, _PROBE_SENTINELS)
        ):  # each stand-in must appear once, as a parameter: else use the ORM every time
            found = _CompiledProbe("", (), [])
        _probe_sql[key] = found
    return found


def probe(group: str, owner: str, epoch: int, using: str) -> Probe:
    """One query: the lease row, the earliest next run (index schedules_due_idx) and whether a
    manual execution waits to be dispatched (index schedules_exec_pending_idx).

    Its cost does not depend on how many schedules there are. Its SQL is compiled once per
    process (``_compiled_probe``); the ORM queryset it comes from is ``_probe_queryset``.
    """
    compiled = _compiled_probe(using)
    if not compiled.sql:
        found = list(_probe_queryset(group, owner, epoch, using))
        if not found:
            return Probe(False, None, False)
        return Probe(bool(found[0][0]), found[0][1], bool(found[0][2]))
    actual: dict[Any, Any] = {_PROBE_GROUP: group, _PROBE_OWNER: owner, _PROBE_EPOCH: epoch}
    params: list[Any] = [
        actual.get(p, p) if isinstance(p, str | int) else p for p in compiled.params
    ]
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        row = cursor.fetchone()
    if row is None:
        return Probe(False, None, False)
    values = []
    for value, converters in zip(row, compiled.converters, strict=True):
        for converter, expression in converters:
            value = converter(value, expression, connection)
        values.append(value)
    return Probe(bool(values[0]), values[1], bool(values[2]))


# The batch claim.


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


def claim_due(
    group: str,
    owner: str,
    epoch: int,
    *,
    horizon: datetime,
    batch: int,
    planner: Planner,
    now: datetime,
    using: str,
    in_transaction: Callable[[list[Claimed]], list[Claimed]] | None = None,
) -> ClaimResult:
    """Claim up to `batch` schedules due at or before `horizon`, in one transaction.

    `in_transaction(claimed)` runs inside it, after the INSERT (an enqueue on a task queue
    kept in the same database); it returns the executions left to dispatch after commit.

    Order: fence check, read the due rows (index schedules_due_idx), count their live
    executions (max_instances), one conditional UPDATE over the batch (each row's version in
    its WHERE) returning the winners (MariaDB reads them back), one multi-row INSERT returning
    the new ids. UPDATE before INSERT: the reverse deadlocked on InnoDB. The unique
    (schedule, fire_time) constraint is the last line of defence. A fixed number of statements
    whatever the batch size. `planner(schedule, live)` runs inside the transaction and must
    not query.
    """

    batch = min(batch, _dialect(using).max_params // 5)  # the UPDATE's parameters

    def attempt() -> ClaimResult:
        with write_transaction(using):
            if not _fence(group, owner, epoch, using):
                return ClaimResult(fenced_out=True)
            rows = _due_rows(horizon, batch + 1, using)
            result = ClaimResult(more=len(rows) > batch)
            rows = rows[:batch]
            if not rows:
                return result
            live: dict[int, int] = dict(
                Execution.objects.using(using)
                .filter(
                    schedule_id__in=[r.pk for r in rows],
                    status__in=[ExecutionStatus.PENDING, ExecutionStatus.RUNNING],
                )
                .values("schedule_id")
                .annotate(n=Count("pk"))
                .values_list("schedule_id", "n")
            )
            plans = {r.pk: planner(r, live.get(r.pk, 0)) for r in rows}
            won = _advance(rows, plans, now, using)
            by_pk = {r.pk: r for r in rows if r.pk in won}
            inserts = [
                _new_row(by_pk[pk], e, epoch, now) for pk in by_pk for e in plans[pk].executions
            ]
            result.claimed = [
                Claimed(
                    execution_id=execution_id,
                    schedule_id=schedule_id,
                    executor=by_pk[schedule_id].executor,
                    fire_time=fire_time,
                    run_at=run_at or fire_time,
                    timeout=by_pk[schedule_id].timeout,
                    job_id=by_pk[schedule_id].job_id,
                )
                for execution_id, schedule_id, fire_time, run_at, status in _insert_executions(
                    inserts, using
                )
                if status == ExecutionStatus.PENDING
            ]
            if in_transaction is not None and result.claimed:
                result.claimed = in_transaction(result.claimed)
            result.errors = [(pk, plans[pk].error) for pk in by_pk if plans[pk].error]
            return result

    return retry_locked(attempt, using=using)


_DUE_COLUMNS = (
    "pk",
    "version",
    "job_id",
    "name",
    "func",
    "executor",
    "trigger_text",
    "args_text",
    "kwargs_text",
    "misfire_grace_time",
    "misfire_policy",
    "max_instances",
    "timeout",
    "next_run_at",
)


def _due_rows(horizon: datetime, limit: int, using: str) -> list[DueSchedule]:
    """The due rows, soonest first, as plain values: no model instances, no JSON parsing."""
    rows = (
        Schedule.objects.using(using)
        .filter(enabled=True, next_run_at__lte=horizon)
        .order_by("next_run_at")
        .annotate(
            trigger_text=Cast("trigger", TextField()),
            args_text=Cast("args", TextField()),
            kwargs_text=Cast("kwargs", TextField()),
        )
        .values_list(*_DUE_COLUMNS)[:limit]
    )
    return [DueSchedule(*row) for row in rows]


class _Dialect:
    """How one connection writes a batch in one statement (see ``_advance`` and
    ``_insert_executions``)."""

    def __init__(self, connection: Any) -> None:
        vendor = connection.vendor
        sqlite = vendor == "sqlite" and connection.Database.sqlite_version_info
        # PostgreSQL: the batch as one array per column (unnest), a handful of parameters
        # whatever its size (thousands of scalar parameters cost more to send than to run).
        self.arrays = vendor == "postgresql"
        # UPDATE ... FROM: PostgreSQL, SQLite 3.33+. MariaDB/MySQL: UPDATE ... JOIN.
        self.update_from = self.arrays or bool(sqlite and sqlite >= (3, 33))
        self.update_join = vendor == "mysql"
        # UPDATE ... RETURNING: PostgreSQL, SQLite 3.35+ (not MariaDB: read the winners back).
        self.update_returning = self.arrays or bool(sqlite and sqlite >= (3, 35))
        # INSERT ... RETURNING: PostgreSQL, SQLite 3.35+, MariaDB 10.5+.
        self.insert_returning = bool(connection.features.can_return_rows_from_bulk_insert)
        # INSERT ... ON CONFLICT DO NOTHING (PostgreSQL, SQLite); MariaDB reports the
        # duplicate and the batch is inserted again row by row.
        self.on_conflict = vendor in ("postgresql", "sqlite")
        # Parameters one statement may carry: SQLite's compiled-in limit (32766 since 3.32;
        # Django assumes 999), PostgreSQL's protocol limit; MySQLdb interpolates them itself.
        self.max_params = 65535
        if sqlite:
            connection.ensure_connection()
            self.max_params = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


def _dialect(using: str) -> _Dialect:
    connection = connections[using]
    key = (using, connection.vendor)
    found = _dialects.get(key)
    if found is None:
        found = _dialects[key] = _Dialect(connection)
    return found


_dialects: dict[tuple[str, str], _Dialect] = {}


def _advance(
    rows: Sequence[DueSchedule], plans: dict[int, SchedulePlan], now: datetime, using: str
) -> set[int]:
    """One UPDATE moving every row of the batch on, guarded by each row's version; return
    the pks of the rows it moved (the others changed under us: an admin save, say)."""
    dialect = _dialect(using)
    if not (dialect.update_from or dialect.update_join):
        return _advance_each(rows, plans, now, using)
    connection = connections[using]
    adapt = _datetime_adapter(connection)
    table = connection.ops.quote_name(Schedule._meta.db_table)
    # The batch as rows of (id, version, new next_run_at, error or NULL).
    batch = [
        (r.pk, r.version, adapt(plans[r.pk].next_run_at), plans[r.pk].error[:2000] or None)
        for r in rows
    ]
    params: list[Any] = [adapt(now)]  # last_error_at of the rows that record an error
    if dialect.arrays:
        source = (
            "unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::text[]) "
            "AS v (vid, vversion, vnext, verror)"
        )
        params += [list(column) for column in zip(*batch, strict=True)]
    elif dialect.update_join:
        # MariaDB/MySQL have no UPDATE ... FROM: join a derived table of the batch instead.
        source = "({}) AS v".format(
            " UNION ALL ".join(
                ["SELECT %s AS vid, %s AS vversion, %s AS vnext, %s AS verror"]
                + ["SELECT %s, %s, %s, %s"] * (len(batch) - 1)
            )
        )
        params += [value for row in batch for value in row]
    else:  # SQLite: a VALUES list names its columns column1, column2, ...
        source = (
            "(SELECT column1 AS vid, column2 AS vversion, column3 AS vnext, column4 AS verror "  # noqa: S608
            "FROM (VALUES {})) AS v".format(", ".join(["(%s, %s, %s, %s)"] * len(batch)))
        )
        params += [value for row in batch for value in row]
    # Names come from the model; every value is a parameter.
    sets = [
        ("next_run_at", "v.vnext"),
        ("version", f"{table}.version + 1"),
        ("last_error", f"COALESCE(v.verror, {table}.last_error)"),
        ("last_error_at", f"CASE WHEN v.verror IS NULL THEN {table}.last_error_at ELSE %s END"),
    ]
    match = f"{table}.id = v.vid AND {table}.version = v.vversion"
    if dialect.update_join:
        assignments = ", ".join(f"{table}.{column} = {value}" for column, value in sets)
        sql = f"UPDATE {table} JOIN {source} ON {match} SET {assignments}"  # noqa: S608
        params.append(params.pop(0))  # the SET's parameter comes after the JOIN's
    else:
        assignments = ", ".join(f"{column} = {value}" for column, value in sets)
        sql = f"UPDATE {table} SET {assignments} FROM {source} WHERE {match}"  # noqa: S608
        if dialect.update_returning:
            sql += " RETURNING id"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if dialect.update_returning:
            return {pk for (pk,) in cursor.fetchall()}
    # No UPDATE ... RETURNING: read the winners back. Our UPDATE holds their row locks (on
    # SQLite, the write lock) until commit, so nobody moved them since.
    return _moved(rows, using)


def _moved(rows: Sequence[DueSchedule], using: str) -> set[int]:
    versions = dict(
        Schedule.objects.using(using)
        .filter(pk__in=[r.pk for r in rows])
        .values_list("pk", "version")
    )
    return {r.pk for r in rows if versions.get(r.pk) == r.version + 1}


def _advance_each(
    rows: Sequence[DueSchedule], plans: dict[int, SchedulePlan], now: datetime, using: str
) -> set[int]:
    """``_advance`` for SQLite before 3.33 (no UPDATE ... FROM): one UPDATE with a CASE."""
    match = Q(*[Q(pk=r.pk, version=r.version) for r in rows], _connector=Q.OR)
    changes: dict[str, Any] = {
        "next_run_at": Case(
            *[
                When(pk=pk, then=Value(p.next_run_at, output_field=DateTimeField()))
                for pk, p in plans.items()
            ],
            default=F("next_run_at"),  # also types the CASE when every branch is NULL
            output_field=DateTimeField(),
        ),
        "version": F("version") + 1,
    }
    errors = {pk: p.error for pk, p in plans.items() if p.error}
    if errors:
        changes["last_error"] = Case(
            *[When(pk=pk, then=Value(msg[:2000])) for pk, msg in errors.items()],
            default=F("last_error"),
            output_field=TextField(),
        )
        changes["last_error_at"] = Case(
            *[When(pk=pk, then=Value(now, output_field=DateTimeField())) for pk in errors],
            default=F("last_error_at"),
            output_field=DateTimeField(),
        )
    Schedule.objects.using(using).filter(match).update(**changes)
    return _moved(rows, using)


# The Execution columns a claim fills per row; every other column takes its default.
_ROW_COLUMNS = (
    "schedule_id",
    "job_id",
    "name",
    "func",
    "fire_time",
    "run_at",
    "kind",
    "status",
    "reason",
    "executor",
    "epoch",
    "finished_at",
)
_ROW_DATETIMES = (4, 5, 11)  # fire_time, run_at, finished_at: adapted for the database
_RETURNED = "id, schedule_id, fire_time, run_at, status"
NewRow = tuple[Any, ...]  # in _ROW_COLUMNS order


def _new_row(s: DueSchedule, e: NewExecution, epoch: int, now: datetime) -> NewRow:
    return (
        s.pk,
        s.job_id,
        s.name,
        s.func,
        e.fire_time,
        e.run_at or e.fire_time,
        e.kind,
        e.status,
        e.reason[:500],
        s.executor,
        epoch,
        None if e.status == ExecutionStatus.PENDING else now,
    )


Inserted = tuple[int, int, datetime, datetime | None, str]  # the _RETURNED columns


def _insert_executions(inserts: list[NewRow], using: str) -> list[Inserted]:
    """One multi-row INSERT returning the new rows; an occurrence another claim already
    recorded is left out (the unique constraint), the others are inserted."""
    if not inserts:
        return []
    dialect = _dialect(using)
    if not dialect.insert_returning:
        return _insert_each(inserts, using)
    connection = connections[using]
    adapt = _datetime_adapter(connection)
    rows = [list(row) for row in inserts]
    for row in rows:
        for i in _ROW_DATETIMES:
            row[i] = adapt(row[i])
    by_column = {f.column: f for f in Execution._meta.concrete_fields if not f.primary_key}
    fields = [by_column.pop(c) for c in _ROW_COLUMNS]
    fixed = list(by_column.values())
    stamp = timezone.now()
    # The columns a claim does not fill per row take their defaults (created_at: now).
    constants = [
        f.get_db_prep_save(
            stamp if getattr(f, "auto_now_add", False) else f.get_default(), connection
        )
        for f in fixed
    ]
    qn = connection.ops.quote_name
    table = qn(Execution._meta.db_table)
    into = f"INSERT INTO {table} ({', '.join(qn(str(f.column)) for f in (*fields, *fixed))}) "
    tail = " ON CONFLICT (schedule_id, fire_time) DO NOTHING" if dialect.on_conflict else ""
    tail += f" RETURNING {_RETURNED}"
    returned: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if dialect.arrays:  # one array per column, the defaults once
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
            defaults = "".join(f", %s::{f.db_type(connection)}" for f in fixed)
            cursor.execute(
                f"{into}SELECT v.*{defaults} FROM unnest({arrays}) AS v{tail}",  # noqa: S608
                [*constants, *map(list, zip(*rows, strict=True))],
            )
            returned = cursor.fetchall()
        else:
            one_row = f"({', '.join(['%s'] * (len(fields) + len(fixed)))})"
            limit = dialect.max_params // (len(fields) + len(fixed))
            for start in range(0, len(rows), limit):  # one statement unless catch-up is huge
                chunk = [[*row, *constants] for row in rows[start : start + limit]]
                try:
                    cursor.execute(
                        f"{into}VALUES {', '.join([one_row] * len(chunk))}{tail}",
                        [value for row in chunk for value in row],
                    )
                    returned += cursor.fetchall()
                except IntegrityError:
                    # MariaDB: another claim recorded one of these occurrences first (InnoDB
                    # rolled back this statement only): insert them one by one.
                    logger.debug("an occurrence was already recorded; inserting one by one")
                    for row in chunk:
                        try:
                            cursor.execute(f"{into}VALUES {one_row}{tail}", row)
                        except IntegrityError:
                            logger.debug("occurrence %s of %s recorded already", row[4], row[1])
                            continue
                        returned += cursor.fetchall()
    convert = _datetime_converter(connection)
    return [
        (pk, sid, convert(fire), convert(run_at), status)  # type: ignore[misc]
        for pk, sid, fire, run_at, status in returned
    ]


def _datetime_converter(connection: Any) -> Callable[[Any], datetime | None]:
    """What the ORM does to a DateTimeField value it reads (SQLite and MariaDB return naive
    values or text), remembered per value: a burst's rows share a few instants."""
    column = Execution._meta.get_field("fire_time").get_col(Execution._meta.db_table)
    converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> datetime | None:
        if value in seen:
            return seen[value]  # type: ignore[no-any-return]
        converted = value
        for converter in converters:
            converted = converter(converted, column, connection)
        seen[value] = converted
        return converted  # type: ignore[no-any-return]

    return convert


def _datetime_adapter(connection: Any) -> Callable[[datetime | None], Any]:
    """``adapt_datetimefield_value``, remembered per value like ``_datetime_converter``."""
    adapt = connection.ops.adapt_datetimefield_value
    seen: dict[datetime | None, Any] = {}

    def adapted(value: datetime | None) -> Any:
        if value not in seen:
            seen[value] = adapt(value)
        return seen[value]

    return adapted


def _insert_each(inserts: list[NewRow], using: str) -> list[Inserted]:
    """``_insert_executions`` for a database with no INSERT ... RETURNING (SQLite before
    3.35, MySQL): ``bulk_create``, then the ids read back when it could not return them."""
    rows = [Execution(**dict(zip(_ROW_COLUMNS, row, strict=True))) for row in inserts]
    try:
        # A duplicate key aborts the whole transaction on PostgreSQL: use a savepoint.
        with transaction.atomic(using=using):
            created = Execution.objects.using(using).bulk_create(rows)
    except IntegrityError:
        logger.debug("an occurrence was already recorded; inserting one by one")
        created = []
        for row in rows:
            row.pk = None
            try:
                with transaction.atomic(using=using):
                    row.save(using=using, force_insert=True)
                created.append(row)
            except IntegrityError:
                logger.debug("occurrence %s of %s already recorded", row.fire_time, row.job_id)
    if any(x.pk is None for x in created):  # a database that cannot return bulk ids
        found = Q(
            *[Q(schedule_id=x.schedule_id, fire_time=x.fire_time) for x in created],
            _connector=Q.OR,
        )
        ids: dict[tuple[int | None, datetime], int] = {
            (sid, fire): pk
            for sid, fire, pk in Execution.objects.using(using)
            .filter(found)
            .values_list("schedule_id", "fire_time", "pk")
        }
        for x in created:
            x.pk = ids.get((x.schedule_id, x.fire_time))
    return [(x.pk, x.schedule_id, x.fire_time, x.run_at, x.status) for x in created]  # type: ignore[misc]


def park_schedule(schedule_id: int, error: str, now: datetime, using: str) -> None:
    """Set a schedule aside (next_run_at NULL) with the error shown in the admin."""
    qs = Schedule.objects.using(using).filter(pk=schedule_id)
    retry_locked(
        lambda: qs.update(
            next_run_at=None, last_error=error[:2000], last_error_at=now, version=F("version") + 1
        ),
        using=using,
    )


def record_schedule_error(schedule_id: int, error: str, now: datetime, using: str) -> None:
    """Show an error on the schedule (visible in the admin) without moving it."""
    qs = Schedule.objects.using(using).filter(pk=schedule_id)
    retry_locked(lambda: qs.update(last_error=error[:2000], last_error_at=now), using=using)


# Pending executions: manual runs, and orphans of an earlier lease holder.


def adopt_pending(
    epoch: int, limit: int, using: str, *, mine: Collection[int] | None = None
) -> list[Claimed]:
    """Stamp pending executions nobody live dispatches (manual ones, epoch NULL, and those
    claimed under an older epoch) with our epoch, and return them to dispatch.

    The stamp fences the earlier holder out: its workers start a row only at its own epoch.
    With `mine` (the ids the caller is dispatching), also those of our own epoch not in it:
    after a failed pass, a claim whose commit landed unseen left rows nobody dispatches.
    """
    stale = Q(epoch__isnull=True) | Q(epoch__lt=epoch)
    if mine is not None:
        stale |= Q(epoch=epoch)
    skip = set(mine or ())

    def attempt() -> list[Claimed]:
        with write_transaction(using):
            pending = Execution.objects.using(using).filter(stale, status=ExecutionStatus.PENDING)
            found = pending.order_by("pk").values_list("pk", flat=True)[: limit + len(skip)]
            ids = [pk for pk in found if pk not in skip][:limit]
            if not ids:
                return []
            pending.filter(pk__in=ids).update(epoch=epoch)
            rows = (
                Execution.objects.using(using)
                .filter(pk__in=ids, epoch=epoch, status=ExecutionStatus.PENDING)
                .values_list(
                    "pk",
                    "schedule_id",
                    "executor",
                    "fire_time",
                    "run_at",
                    "schedule__timeout",
                    "job_id",
                )
            )
            return [
                Claimed(pk, sid, ex, fire, run_at or fire, timeout, job_id)
                for pk, sid, ex, fire, run_at, timeout, job_id in rows
            ]

    return retry_locked(attempt, using=using)


# An execution's lifecycle.


@dataclass(frozen=True)
class RunSpec:
    """What a worker needs to run one execution."""

    execution_id: int
    schedule_id: int | None
    func: str
    args: list[Any]
    kwargs: dict[str, Any]
    fire_time: datetime
    attempt: int
    max_retries: int
    retry_delay: float
    timeout: float | None = None  # seconds; the schedule's, read when the run starts


# How long a worker keeps retrying its own writes through a flaky connection or a restarting
# server before it gives up (the run is then marked lost by the heartbeat sweep).
TRANSIENT_PATIENCE = 60.0


def retry_transient(attempt: Callable[[], _T], using: str) -> _T:
    """Call `attempt` until it gets through transient errors (a dropped connection, a
    restarting server, a lock), with backoff, for up to TRANSIENT_PATIENCE seconds; inside a
    transaction it runs once (the transaction's owner retries the whole of it).

    A try whose reply was lost may have landed (an ambiguous commit), so `attempt` must be
    safe to repeat: the worker's writes below recognise their own earlier success.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        return attempt()
    deadline = time.monotonic() + TRANSIENT_PATIENCE
    delay = 0.01
    while True:
        try:
            return attempt()
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + delay > deadline:
                raise
            logger.debug("transient error on %r, retry in %.3fs: %s", using, delay, exc)
        if connection.connection is not None and not connection.is_usable():
            connection.close()  # reconnect on the next try
        time.sleep(delay * (0.5 + random.random()))  # noqa: S311
        delay = min(delay * 2, 1.0)


def start_execution(
    execution_id: int, epoch: int | None, worker: str, started_at: datetime, using: str
) -> RunSpec | None:
    """CAS pending -> running (only at `epoch` when given). None: another worker has it, or a
    newer lease holder adopted it: a duplicate delivery never runs a job twice."""
    qs = Execution.objects.using(using).filter(pk=execution_id, status=ExecutionStatus.PENDING)
    if epoch is not None:
        qs = qs.filter(epoch=epoch)
    # Our own start, should a try have landed unseen: `started_at` is this call's own.
    ours = Execution.objects.using(using).filter(
        pk=execution_id, status=ExecutionStatus.RUNNING, worker=worker[:255], started_at=started_at
    )

    def attempt() -> Execution | None:
        won = qs.update(
            status=ExecutionStatus.RUNNING,
            started_at=started_at,
            heartbeat_at=DbNow(),
            worker=worker[:255],
        )
        if won != 1 and not ours.exists():
            return None
        return Execution.objects.using(using).select_related("schedule").get(pk=execution_id)

    row = retry_transient(attempt, using)
    if row is None:
        return None
    schedule = row.schedule
    return RunSpec(
        execution_id=row.pk,
        schedule_id=schedule.pk if schedule else None,
        func=row.func,
        args=list(schedule.args) if schedule else [],
        kwargs=dict(schedule.kwargs) if schedule else {},
        fire_time=row.fire_time,
        attempt=row.attempt,
        max_retries=schedule.max_retries if schedule else 0,
        retry_delay=schedule.retry_delay if schedule else 0.0,
        timeout=schedule.timeout if schedule else None,
    )


def still_pending(execution_ids: Sequence[int], epoch: int, using: str) -> list[int]:
    """Those of `execution_ids` still pending under `epoch` (the tasks executor's sweeper)."""
    return list(
        Execution.objects.using(using)
        .filter(pk__in=list(execution_ids), status=ExecutionStatus.PENDING, epoch=epoch)
        .values_list("pk", flat=True)
    )


def next_attempt(execution_id: int, attempt: int, using: str) -> bool:
    """Record a retry as the next attempt of the same running execution."""
    qs = Execution.objects.using(using).filter(
        pk=execution_id, status=ExecutionStatus.RUNNING, attempt=attempt
    )
    return retry_locked(
        lambda: qs.update(attempt=attempt + 1, heartbeat_at=DbNow()) == 1, using=using
    )


def finish_execution(
    execution_id: int,
    attempt: int,
    status: str,
    *,
    finished_at: datetime,
    duration: timedelta,
    result: str = "",
    reason: str = "",
    traceback: str = "",
    using: str,
) -> bool:
    """Finish a running execution. False: it was finished already (timed out, marked lost)."""
    qs = Execution.objects.using(using).filter(
        pk=execution_id, status=ExecutionStatus.RUNNING, attempt=attempt
    )
    # Our own finish, should a try have landed unseen.
    ours = Execution.objects.using(using).filter(
        pk=execution_id, status=status, attempt=attempt, finished_at=finished_at
    )
    return retry_transient(
        lambda: (
            qs.update(
                status=status,
                finished_at=finished_at,
                duration=duration,
                result=result,
                reason=reason[:500],
                traceback=traceback,
            )
            == 1
            or ours.exists()
        ),
        using,
    )


def fail_unstarted(execution_id: int, reason: str, now: datetime, using: str) -> bool:
    """Finish a pending execution that cannot run (its executor is not configured)."""
    qs = Execution.objects.using(using).filter(pk=execution_id, status=ExecutionStatus.PENDING)
    return retry_locked(
        lambda: qs.update(status=ExecutionStatus.FAILED, reason=reason[:500], finished_at=now) == 1,
        using=using,
    )


def time_out(execution_id: int, timeout: float, now: datetime, using: str) -> bool:
    """Mark a running execution failed because it ran past its timeout."""
    qs = Execution.objects.using(using).filter(pk=execution_id, status=ExecutionStatus.RUNNING)
    return retry_locked(
        lambda: (
            qs.update(
                status=ExecutionStatus.FAILED,
                reason=f"timeout: still running after {timeout:g}s",
                finished_at=now,
            )
            == 1
        ),
        using=using,
    )


def time_out_overdue(
    executor: str, grace: timedelta, now: datetime, using: str
) -> list[tuple[int, float]]:
    """Mark failed the running executions of `executor` still running `grace` past their
    schedule's timeout, judged from their ``started_at`` by `now`; return (id, timeout) of
    those marked. The running rows are few (index schedules_exec_status_idx), so the
    deadline is worked out here rather than in each database's date arithmetic."""
    rows = Execution.objects.using(using).filter(
        status=ExecutionStatus.RUNNING,
        executor=executor,
        schedule__timeout__isnull=False,
        started_at__isnull=False,
    )
    late: list[tuple[int, float]] = [
        (pk, timeout)
        for pk, started_at, timeout in rows.values_list("pk", "started_at", "schedule__timeout")
        if started_at is not None
        and timeout is not None
        and started_at + timedelta(seconds=timeout) + grace <= now
    ]
    return [(pk, timeout) for pk, timeout in late if time_out(pk, timeout, now, using)]


def heartbeat(execution_ids: Sequence[int], using: str) -> int:
    """Refresh the heartbeat of our running executions, by the database's clock."""
    if not execution_ids:
        return 0
    qs = Execution.objects.using(using).filter(
        pk__in=list(execution_ids), status=ExecutionStatus.RUNNING
    )
    return retry_locked(lambda: qs.update(heartbeat_at=DbNow()), using=using)


def mark_lost(
    *,
    older_than: timedelta | None = None,
    execution_ids: Sequence[int] | None = None,
    reason: str,
    now: datetime,
    using: str,
) -> list[int]:
    """Mark running executions lost: those whose heartbeat is older than `older_than` by the
    database's clock (index schedules_exec_status_idx), or the given ids. Return the ids
    marked lost; those of a ``rerun_lost`` schedule with attempts left go back to ``pending``
    as their next attempt instead, and are not returned.

    With `older_than`, a SELECT comes first; one query when nothing is lost.
    """
    qs = Execution.objects.using(using).filter(status=ExecutionStatus.RUNNING)
    if older_than is not None:
        qs = qs.filter(heartbeat_at__lt=DbNow() - older_than)
    if execution_ids is not None:
        qs = qs.filter(pk__in=list(execution_ids))

    def attempt() -> list[int]:
        with write_transaction(using):
            rows = list(
                qs.values_list("pk", "attempt", "schedule__rerun_lost", "schedule__max_retries")[
                    :1000
                ]
            )
            # rerun_lost: the next attempt of the same Execution, back to pending with no
            # epoch (the leader adopts it like a manual run); a lost attempt counts against
            # max_retries like a failed one, with at least one re-run (docs/guarantees.md).
            again = [
                pk
                for pk, tries, rerun, retries in rows
                if rerun and tries < max(int(retries or 0) + 1, 2)
            ]
            ids = [pk for pk, *_ in rows if pk not in again]
            running = Execution.objects.using(using).filter(status=ExecutionStatus.RUNNING)
            if ids:
                running.filter(pk__in=ids).update(
                    status=ExecutionStatus.LOST, reason=reason[:500], finished_at=now
                )
            if again:
                running.filter(pk__in=again).update(
                    status=ExecutionStatus.PENDING,
                    attempt=F("attempt") + 1,
                    epoch=None,
                    worker="",
                    started_at=None,
                    heartbeat_at=None,
                    reason=f"re-run: the previous attempt was lost ({reason})"[:500],
                )
                logger.warning(
                    "execution(s) %s lost (%s); re-running them (rerun_lost)",
                    ", ".join(map(str, again)),
                    reason,
                )
            return ids

    return retry_locked(attempt, using=using)


# --- Maintenance queries ---


def _prunable(before: datetime, using: str | None = None) -> Any:
    finished = [status.value for status in FINISHED_STATUSES]
    return Execution.objects.using(database_alias(using)).filter(
        created_at__lt=before, status__in=finished
    )


def count_prunable_executions(before: datetime, using: str | None = None) -> int:
    return int(_prunable(before, using).count())


def prune_executions(
    before: datetime, batch_size: int = 1000, using: str | None = None
) -> Iterator[int]:
    """Delete finished executions created before `before`; yield the count of each batch.

    Each batch is its own short transaction on at most `batch_size` primary keys (found through
    the ``created_at`` index), so pruning a million rows never holds a long lock. Each search
    starts at the last batch's ``created_at``, not at the oldest row: the index entries of the
    rows already deleted stay until VACUUM, and walking them again made each batch slower than
    the one before (1 ms to 11 ms over 500 batches, benchmarks/scale.py).
    """
    alias = database_alias(using)
    since: datetime | None = None
    while True:
        rows = _prunable(before, alias)
        if since is not None:
            rows = rows.filter(created_at__gte=since)  # ties: rows left at `since` come again
        batch = list(rows.order_by("created_at").values_list("pk", "created_at")[:batch_size])
        if not batch:
            return
        ids = [pk for pk, _created in batch]
        since = batch[-1][1]
        with write_transaction(alias):
            deleted, _per_model = Execution.objects.using(alias).filter(pk__in=ids).delete()
        yield deleted
        if len(ids) < batch_size:
            return


# --- Operations queries: who is running, is it keeping up ---


@dataclass(frozen=True)
class ProcessReport:
    """What a scheduler process says of itself on each heartbeat."""

    group: str
    owner: str
    host: str
    pid: int
    version: str
    role: str
    started_at: datetime
    last_tick_at: datetime | None = None
    fired_last_minute: int = 0
    lag: float | None = None


def report_process(report: ProcessReport, using: str | None = None) -> None:
    """Record the process's heartbeat (by the database's clock); create its row the first time."""
    alias = database_alias(using)
    fields = {
        "group": report.group,
        "host": report.host[:255],
        "pid": report.pid,
        "version": report.version[:50],
        "role": report.role,
        "started_at": report.started_at,
        "last_tick_at": report.last_tick_at,
        "fired_last_minute": report.fired_last_minute,
        "lag": report.lag,
        "heartbeat_at": DbNow(),
    }
    rows = SchedulerProcess.objects.using(alias)

    def attempt() -> None:
        with write_transaction(alias):
            if rows.filter(owner=report.owner).update(**fields):
                return
            try:
                with transaction.atomic(using=alias):
                    rows.create(owner=report.owner, **fields)
            except IntegrityError:  # our own row, created by a retry that did land
                rows.filter(owner=report.owner).update(**fields)

    retry_locked(attempt, using=alias)


def forget_process(owner: str, using: str | None = None) -> None:
    """Delete a process's row on clean shutdown."""
    alias = database_alias(using)
    retry_locked(
        lambda: SchedulerProcess.objects.using(alias).filter(owner=owner).delete(), using=alias
    )


def expire_processes(older_than: timedelta, using: str | None = None) -> int:
    """Delete the rows of processes silent for longer than `older_than` (they died)."""
    alias = database_alias(using)

    def attempt() -> int:
        stale = SchedulerProcess.objects.using(alias).filter(heartbeat_at__lt=DbNow() - older_than)
        deleted, _per_model = stale.delete()
        return deleted

    return retry_locked(attempt, using=alias)


@dataclass
class GroupStatus:
    """A scheduler group as an operator sees it, judged by the database's clock."""

    group: str
    now: datetime
    processes: list[SchedulerProcess]
    leader: SchedulerProcess | None
    lease_owner: str
    lease_expires_at: datetime | None
    overdue: int
    oldest_due: datetime | None

    @property
    def lag(self) -> float:
        """Seconds between now and the oldest enabled schedule that is due (0 when none)."""
        if self.oldest_due is None:
            return 0.0
        return max(0.0, (self.now - self.oldest_due).total_seconds())

    @property
    def last_seen(self) -> datetime | None:
        beats = [p.heartbeat_at for p in self.processes]
        return max(beats) if beats else None


def scheduler_groups(using: str | None = None) -> list[str]:
    """Every group with a lease or a process row; ``["default"]`` when there is none yet."""
    alias = database_alias(using)
    groups = set(SchedulerLease.objects.using(alias).values_list("group", flat=True))
    groups.update(SchedulerProcess.objects.using(alias).values_list("group", flat=True))
    return sorted(groups) or ["default"]


def scheduler_status(
    group: str, *, overdue_after: timedelta, using: str | None = None
) -> GroupStatus:
    """Processes of `group`, its leader, and how far behind the due schedules are.

    Four small queries, none of which grows with the number of schedules: the database's
    clock, the lease, the process rows, and one aggregate over the due index.
    """
    alias = database_alias(using)
    now = database_now(alias)
    lease = (
        SchedulerLease.objects.using(alias)
        .filter(group=group)
        .values_list("owner", "expires_at")
        .first()
    )
    owner, expires_at = lease if lease else ("", None)
    if expires_at is not None and expires_at <= now:
        owner = ""  # expired: nobody leads until a standby takes it
    processes = list(
        SchedulerProcess.objects.using(alias).filter(group=group).order_by("role", "started_at")
    )
    leader = next((p for p in processes if owner and p.owner == owner), None)
    due = Schedule.objects.using(alias).filter(enabled=True, next_run_at__lte=now)
    stats = due.aggregate(oldest=Min("next_run_at"))
    oldest = stats["oldest"]
    overdue = due.filter(next_run_at__lt=now - overdue_after).count() if oldest else 0
    return GroupStatus(
        group=group,
        now=now,
        processes=processes,
        leader=leader,
        lease_owner=owner,
        lease_expires_at=expires_at if owner else None,
        overdue=overdue,
        oldest_due=oldest,
    )


_NOW_SQL = {
    "postgresql": "SELECT STATEMENT_TIMESTAMP()",
    "mysql": "SELECT UTC_TIMESTAMP(6)",
    "sqlite": "SELECT STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')",
}


def database_now(using: str | None = None) -> datetime:
    """The database's clock, read once: aware, in UTC (the same clock as ``DbNow``)."""
    alias = database_alias(using)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(_NOW_SQL.get(connection.vendor, "SELECT CURRENT_TIMESTAMP"))
        value: Any = cursor.fetchone()[0]
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # MariaDB's UTC_TIMESTAMP and SQLite's text are UTC, unlabelled
        value = value.replace(tzinfo=UTC)
    now: datetime = value.astimezone(UTC)
    return now
