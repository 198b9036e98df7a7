"""Operations: pruning old executions, process reports, and who is running and keeping up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.db.models import Min, Q
from django.db.models.functions import Coalesce
from django.db.models.sql import Query

from django_schedules.dbclock import DbNow
from django_schedules.models import (
    Execution,
    Schedule,
    SchedulerLease,
    SchedulerProcess,
)
from django_schedules.store.transactions import (
    database_alias,
    executions,
    retry,
    write_transaction,
)


def count_prunable_executions(before: datetime, using: str | None = None) -> int:
    return int(executions(using).prunable(before).count())


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
        rows = executions(alias).prunable(before)
        if since is not None:
            rows = rows.filter(created_at__gte=since)  # ties: rows left at `since` come again
        batch = list(rows.order_by("created_at").values_list("pk", "created_at")[:batch_size])
        if not batch:
            return
        ids = [pk for pk, _created in batch]
        since = batch[-1][1]
        with write_transaction(alias):
            deleted, _per_model = executions(alias).filter(pk__in=ids).delete()
        yield deleted
        if len(ids) < batch_size:
            return


# Who is running, is it keeping up.


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

    retry(attempt, using=alias)


def forget_process(owner: str, using: str | None = None) -> None:
    """Delete a process's row on clean shutdown."""
    alias = database_alias(using)
    retry(lambda: SchedulerProcess.objects.using(alias).filter(owner=owner).delete(), using=alias)


def expire_processes(older_than: timedelta, using: str | None = None) -> int:
    """Delete the rows of processes silent for longer than `older_than` (they died)."""
    alias = database_alias(using)

    def attempt() -> int:
        stale = SchedulerProcess.objects.using(alias).filter(heartbeat_at__lt=DbNow() - older_than)
        deleted, _per_model = stale.delete()
        return deleted

    return retry(attempt, using=alias)


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
    # The earliest start time of a claimed run not yet started, when it has passed: past the
    # ceiling the schedules are claimed on time and the runs wait for a worker.
    oldest_unstarted: datetime | None = None

    @property
    def lag(self) -> float:
        """Seconds between now and the oldest of what is due and not yet started: an enabled
        schedule due and unclaimed, or a claimed run whose start time passed (0 when none)."""
        waiting = [t for t in (self.oldest_due, self.oldest_unstarted) if t is not None]
        if not waiting:
            return 0.0
        return max(0.0, (self.now - min(waiting)).total_seconds())

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

    Five small queries, none of which grows with the number of schedules: the database's
    clock, the lease, the process rows, one aggregate over the due index and one over the
    pending executions.
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
    due = Schedule.objects.using(alias).due(now).order_by()  # an aggregate needs no order
    stats = due.aggregate(oldest=Min("next_run_at"))
    oldest = stats["oldest"]
    overdue = due.filter(next_run_at__lt=now - overdue_after).count() if oldest else 0
    unstarted = (
        Execution.objects.using(alias)
        .pending()  # index schedules_exec_pending_idx: the pending rows are few
        .filter(Q(run_at__lt=now) | Q(run_at__isnull=True, fire_time__lt=now))
        .order_by()
        .aggregate(oldest=Min(Coalesce("run_at", "fire_time")))["oldest"]
    )
    return GroupStatus(
        group=group,
        now=now,
        processes=processes,
        leader=leader,
        lease_owner=owner,
        lease_expires_at=expires_at if owner else None,
        overdue=overdue,
        oldest_due=oldest,
        oldest_unstarted=unstarted,
    )


def database_now(using: str | None = None) -> datetime:
    """The database's clock, read once: aware, in UTC (``DbNow``, selected on its own)."""
    alias = database_alias(using)
    connection = connections[alias]
    sql, params = Query(None).get_compiler(using=alias).compile(DbNow())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", list(params))
        value: Any = cursor.fetchone()[0]
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # MariaDB's UTC_TIMESTAMP and SQLite's text are UTC, unlabelled
        value = value.replace(tzinfo=UTC)
    now: datetime = value.astimezone(UTC)
    return now
