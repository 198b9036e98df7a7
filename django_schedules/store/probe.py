"""The idle probe: one query per idle tick, whatever the number of schedules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connections
from django.db.models import BooleanField, Case, DateTimeField, Exists, Q, Subquery, Value, When

from django_schedules.dbclock import DbNow
from django_schedules.models import Schedule, SchedulerLease
from django_schedules.store.transactions import executions


@dataclass(frozen=True)
class Probe:
    """What one idle tick learns: do we still hold the lease, when is the next firing, and
    does a manual run wait."""

    holds_lease: bool
    earliest: datetime | None
    manual_pending: bool


def earliest_run_query(using: str) -> Any:
    """The earliest next run of an enabled schedule (index schedules_due_idx)."""
    return Schedule.objects.using(using).upcoming().values("next_run_at")[:1]


def unclaimed_query(using: str) -> Any:
    """Pending executions no lease holder stamped (index schedules_exec_pending_idx)."""
    return executions(using).unclaimed()


def _probe_queryset(group: str, owner: str, epoch: int, using: str) -> Any:
    return (
        SchedulerLease.objects.using(using)
        .filter(group=group)
        .annotate(
            earliest=Subquery(earliest_run_query(using), output_field=DateTimeField()),
            manual=Exists(unclaimed_query(using)),
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
    """One query: the lease row, the earliest next run (``earliest_run_query``) and whether a
    manual execution waits to be dispatched (``unclaimed_query``).

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


# The stand-in for `until`, compiled into the cached count's SQL.
_COUNT_UNTIL = datetime(2999, 12, 31, 23, 59, 59, 987_654, tzinfo=UTC)
_count_sql: dict[tuple[str, str, int], tuple[str, tuple[Any, ...], int] | None] = {}


def _due_up_to(until: datetime, cap: int, using: str) -> Any:
    return Schedule.objects.using(using).due(until).order_by().values("pk")[:cap]


def count_due(until: datetime, cap: int, using: str) -> int:
    """How many enabled schedules run at or before `until`, counted up to `cap` (index
    schedules_due_idx): the size of a burst coming, for the loop's lead (bursts.py).

    The loop counts once per instant, beside a stream of runs: its SQL is compiled once per
    process and database, as the probe's is (building the queryset cost more than running
    it, and its garbage lengthened the collector's pauses in the runs' publisher threads)."""
    connection = connections[using]
    key = (using, connection.vendor, cap)
    if key not in _count_sql:
        sql, params = _due_up_to(_COUNT_UNTIL, cap, using).query.get_compiler(using).as_sql()
        stand_in = connection.ops.adapt_datetimefield_value(_COUNT_UNTIL)
        slots = [n for n, param in enumerate(params) if param == stand_in]
        # The stand-in must appear once, as a parameter: else use the ORM every time. The
        # SQL is the ORM's own, its values parameters.
        count = f"SELECT COUNT(*) FROM ({sql}) burst"  # noqa: S608
        _count_sql[key] = (count, tuple(params), slots[0]) if len(slots) == 1 else None
    found = _count_sql[key]
    if found is None:
        return int(_due_up_to(until, cap, using).count())
    sql, params, slot = found
    actual = list(params)
    actual[slot] = connection.ops.adapt_datetimefield_value(until)
    with connection.cursor() as cursor:
        cursor.execute(sql, actual)
        row = cursor.fetchone()
    return int(row[0]) if row else 0
