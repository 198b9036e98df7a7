"""The Prometheus metrics' data: counters kept as runs finish, and the scrape's reads.

Counters (runs by status, the lateness and duration histograms, claim batch sizes) live in
the ``MetricCounter`` table, one row per series, and grow by one upsert statement per batch
of finishes, inside the transaction that finishes the runs (``add_counts``): right whichever
process ran them, never recounted from the executions (so pruning cannot make them go down).
A histogram is stored as one row per bucket (not cumulative), plus its ``sum``; the scrape
makes the buckets cumulative and the count.

The scrape's reads are a fixed number of queries whatever the number of schedules
(``scrape``): the counters, one read of every schedule with its last outcome and last success
(two correlated subqueries on the (schedule, fire_time) index), the database's clock, the
leases, and the process rows per group and role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import Count, OuterRef, Subquery

from django_schedules.models import (
    FINISHED_STATUSES,
    Execution,
    ExecutionStatus,
    MetricCounter,
    Schedule,
    SchedulerLease,
    SchedulerProcess,
)
from django_schedules.store.ops import database_now
from django_schedules.store.transactions import database_alias

# The counter families (MetricCounter.metric) and their histograms' upper bounds.
RUNS = "runs"
LATENESS = "lateness_seconds"
DURATION = "duration_seconds"
CLAIM_BATCH = "claim_batch_size"
SUM = "sum"
INF = "+Inf"
BUCKETS: dict[str, tuple[float, ...]] = {
    # From the instant a run was due (fire time plus jitter) to its start.
    LATENESS: (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    DURATION: (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0),
    CLAIM_BATCH: (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
}


def bucket_label(bound: float) -> str:
    """The ``le`` label of an upper bound, as the exposition writes it (``0.5``, ``10.0``)."""
    return INF if bound == float("inf") else repr(float(bound))


@dataclass
class Tally:
    """Increments gathered in memory, written by ``add_counts`` as one statement."""

    counts: dict[tuple[str, str], float] = field(default_factory=dict)

    def run(self, status: str, n: int = 1) -> Tally:
        if n:
            self._add((RUNS, str(status)), n)
        return self

    def observe(self, metric: str, value: float) -> Tally:
        bound = next((b for b in BUCKETS[metric] if value <= b), float("inf"))
        self._add((metric, bucket_label(bound)), 1)
        self._add((metric, SUM), value)
        return self

    def _add(self, key: tuple[str, str], n: float) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def __bool__(self) -> bool:
        return bool(self.counts)


def add_counts(tally: Tally, using: str) -> None:
    """Add `tally` to the counters: one multi-row upsert, in the caller's transaction.

    Call it last, just before the commit: on PostgreSQL and InnoDB the rows it touches stay
    locked until then, and every process finishing runs touches the same few rows. The rows
    go in one order (sorted) so two batches never wait on each other in a cycle."""
    if not tally:
        return
    connection = connections[using]
    qn = connection.ops.quote_name
    table = qn(MetricCounter._meta.db_table)
    rows = sorted(tally.counts.items())
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    params: list[Any] = [p for (metric, label), n in rows for p in (metric, label, float(n))]
    metric, label, value = qn("metric"), qn("label"), qn("value")
    if connection.vendor == "mysql":  # VALUES(): MariaDB's spelling; MySQL 8.0.20+ warns
        upsert = f"ON DUPLICATE KEY UPDATE {value} = {value} + VALUES({value})"
    else:  # PostgreSQL and SQLite (3.24+)
        upsert = (
            f"ON CONFLICT ({metric}, {label}) DO UPDATE "
            f"SET {value} = {table}.{value} + excluded.{value}"
        )
    sql = f"INSERT INTO {table} ({metric}, {label}, {value}) VALUES {values} {upsert}"  # noqa: S608 - names from the model
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def finished_runs(
    landed: Iterable[tuple[str, timedelta | None, datetime | None, datetime | None]],
) -> Tally:
    """The increments of runs just finished: (status, duration, started_at, due instant)."""
    tally = Tally()
    for status, duration, started_at, due in landed:
        tally.run(status)
        if duration is not None:
            tally.observe(DURATION, max(0.0, duration.total_seconds()))
        if started_at is not None and due is not None:
            tally.observe(LATENESS, max(0.0, (started_at - due).total_seconds()))
    return tally


@dataclass(frozen=True)
class ScheduleGauges:
    """One schedule's gauges, read at scrape time."""

    job_id: str
    next_run_at: datetime | None
    last_status: str | None
    last_success_at: datetime | None


@dataclass(frozen=True)
class GroupGauges:
    """One scheduler group's lease and processes, read at scrape time."""

    group: str
    leader: bool  # a holder whose lease has not expired by the database's clock
    epoch: int
    standbys: int  # standby processes that reported within the lease TTL times three
    processes: int


@dataclass(frozen=True)
class Scrape:
    counters: dict[tuple[str, str], float]
    schedules: list[ScheduleGauges]
    groups: list[GroupGauges]
    now: datetime


def scrape(*, ttl: float, using: str | None = None) -> Scrape:
    """Everything the metrics endpoint shows, in five queries whatever the number of
    schedules and executions."""
    alias = database_alias(using)
    counters = {
        (metric, label): value
        for metric, label, value in MetricCounter.objects.using(alias).values_list(
            "metric", "label", "value"
        )
    }
    finished = [s.value for s in FINISHED_STATUSES]
    history = Execution.objects.using(alias).filter(schedule=OuterRef("pk"))
    last = history.filter(status__in=finished).order_by("-fire_time")
    success = history.filter(status=ExecutionStatus.SUCCEEDED).order_by("-fire_time")
    rows = (
        Schedule.objects.using(alias)
        .order_by()
        .annotate(
            last_status=Subquery(last.values("status")[:1]),
            last_success_at=Subquery(success.values("finished_at")[:1]),
        )
        .values_list(
            "job_id",
            "next_run_at",
            "last_status",
            "last_success_at",
        )
    )
    schedules = [ScheduleGauges(*row) for row in rows]
    now = database_now(alias)
    leases = list(
        SchedulerLease.objects.using(alias).values_list("group", "owner", "epoch", "expires_at")
    )
    seen = now - timedelta(seconds=3 * ttl)
    roles: dict[tuple[str, str], int] = {
        (group, role): n
        for group, role, n in SchedulerProcess.objects.using(alias)
        .filter(heartbeat_at__gte=seen)
        .order_by()
        .values("group", "role")
        .annotate(n=Count("pk"))
        .values_list("group", "role", "n")
    }
    by_group = {g: (owner, epoch, expires) for g, owner, epoch, expires in leases}
    names = sorted(set(by_group) | {g for g, _ in roles})
    groups = []
    for name in names:
        owner, epoch, expires = by_group.get(name, ("", 0, None))
        groups.append(
            GroupGauges(
                group=name,
                leader=bool(owner) and expires is not None and expires > now,
                epoch=int(epoch),
                standbys=roles.get((name, "standby"), 0),
                processes=sum(n for (g, _), n in roles.items() if g == name),
            )
        )
    return Scrape(counters=counters, schedules=schedules, groups=groups, now=now)
