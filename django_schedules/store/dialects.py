"""The claim's two batch statements, one dialect per class: the conditional UPDATE that moves
a batch of due schedules on (each row's version in its WHERE), and the multi-row INSERT of
their executions. ``Dialect`` is the generic fallback through the ORM; each vendor class
writes one statement per batch and falls back to it for a feature its server lacks.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.db import IntegrityError, connections, transaction
from django.db.models import Case, DateTimeField, F, Q, TextField, Value, When
from django.db.models.sql import Query
from django.utils import timezone

from django_schedules.dbclock import DbNow
from django_schedules.models import Execution, ExecutionStatus, Schedule
from django_schedules.store.rows import DueSchedule, SchedulePlan
from django_schedules.store.transactions import logger


class NewRow(NamedTuple):
    """The Execution columns a claim fills per row, in INSERT order; every other column
    takes its default."""

    schedule_id: int
    job_id: str
    name: str
    func: str
    args: str  # JSON text, as the claim read it from the schedule
    kwargs: str  # JSON text
    fire_time: datetime
    run_at: datetime
    kind: str
    status: str
    reason: str
    executor: str
    epoch: int
    finished_at: datetime | None


# The columns adapted for the database on the way in.
_DATETIMES = tuple(NewRow._fields.index(name) for name in ("fire_time", "run_at", "finished_at"))


class Inserted(NamedTuple):
    """A row an INSERT returned."""

    id: int
    schedule_id: int
    fire_time: datetime
    run_at: datetime | None
    status: str


_RETURNED = ", ".join(Inserted._fields)


class Dialect:
    """The generic fallback: an UPDATE with a CASE per column, then ``bulk_create``."""

    update_from = False  # moves the batch in one UPDATE joined to its values
    update_returning = False  # that UPDATE returns the rows it moved
    insert_returning = False  # a multi-row INSERT returns the new rows
    # Parameters one statement may carry.
    max_params = 65535

    def advance(
        self, rows: Sequence[DueSchedule], plans: dict[int, SchedulePlan], now: datetime, using: str
    ) -> set[int]:
        """Move every row of the batch on, guarded by each row's version; return the pks of
        the rows moved (the others changed under us: an admin save, say)."""
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
        won = _lock_unchanged(rows, using)
        Schedule.objects.using(using).filter(match).update(**changes)
        return won

    def insert(self, rows: list[NewRow], using: str) -> list[Inserted]:
        """Insert the rows, returning them; an occurrence another claim already recorded is
        left out (the unique constraint), the others are inserted."""
        if not self.insert_returning:
            return _insert_each(rows, using)
        return self._insert_values(rows, using, tail="")

    def start(
        self, rows: Sequence[tuple[int, datetime]], epoch: int | None, worker: str, using: str
    ) -> None:
        """Move the pending executions `rows` ((id, started_at), only at `epoch` when given)
        to running, each with its own start time, in one statement per chunk: the vendor's
        (``_start_sql``), else the ORM's CASE."""
        connection = connections[using]
        step = max(self.max_params // 2 - 8, 1)
        with connection.cursor() as cursor:
            for first in range(0, len(rows), step):
                chunk = rows[first : first + step]
                statement = self._start_sql(chunk, epoch, worker, using)
                if statement is None:
                    self._start_orm(chunk, epoch, worker, using)
                else:
                    cursor.execute(*statement)

    def _start_orm(
        self, rows: Sequence[tuple[int, datetime]], epoch: int | None, worker: str, using: str
    ) -> None:
        qs = Execution.objects.using(using).filter(
            pk__in=[pk for pk, _ in rows], status=ExecutionStatus.PENDING
        )
        if epoch is not None:
            qs = qs.filter(epoch=epoch)
        qs.update(
            status=ExecutionStatus.RUNNING,
            started_at=Case(
                *[When(pk=pk, then=Value(at, output_field=DateTimeField())) for pk, at in rows],
                output_field=DateTimeField(),
            ),
            heartbeat_at=DbNow(),
            worker=worker,
        )

    # Shared by the vendors.

    def _start_sql(
        self, rows: Sequence[tuple[int, datetime]], epoch: int | None, worker: str, using: str
    ) -> tuple[str, list[Any]] | None:
        """The vendor's one statement for ``start``, or None to use the generic one."""
        return None

    def _start_parts(
        self, epoch: int | None, worker: str, using: str
    ) -> tuple[str, str, str, list[Any], list[Any]]:
        """The table, the SET list and the WHERE of a vendor's start statement, with the
        parameters of each (the source ``v`` brings ``vid`` and ``vstart``)."""
        connection = connections[using]
        table = connection.ops.quote_name(Execution._meta.db_table)
        compiler = connection.ops.compiler("SQLCompiler")(Query(Execution), connection, using)
        now, _ = compiler.compile(DbNow())
        sets = f"status = %s, started_at = v.vstart, heartbeat_at = {now}, worker = %s"
        where = f"{table}.id = v.vid AND {table}.status = %s"
        where_params: list[Any] = [ExecutionStatus.PENDING.value]
        if epoch is not None:
            where += f" AND {table}.epoch = %s"
            where_params.append(epoch)
        return table, sets, where, [ExecutionStatus.RUNNING.value, worker], where_params

    def _update_from(
        self, source: str, params: list[Any], rows: Sequence[DueSchedule], using: str
    ) -> set[int]:
        """``UPDATE ... FROM <source> AS v (vid, vversion, vnext, verror)``; `params` start
        with the SET's (``now``), then the source's."""
        connection = connections[using]
        table = connection.ops.quote_name(Schedule._meta.db_table)
        sets = _sets(table)
        assignments = ", ".join(f"{column} = {value}" for column, value in sets)
        match = _match(table)
        sql = f"UPDATE {table} SET {assignments} FROM {source} WHERE {match}"  # noqa: S608
        if self.update_returning:
            sql += " RETURNING id"
        won = set() if self.update_returning else _lock_unchanged(rows, using)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if self.update_returning:
                return {pk for (pk,) in cursor.fetchall()}
        return won

    def _insert_values(self, rows: list[NewRow], using: str, *, tail: str) -> list[Inserted]:
        """``INSERT ... VALUES (...), (...) <tail> RETURNING``: one statement unless a
        catch-up is huge. A duplicate occurrence the server reports (no ``tail`` to skip it)
        rolls back that statement only: its rows are inserted again one by one."""
        connection = connections[using]
        into, fields, constants = _into(connection)
        values = _adapted(rows, connection)
        tail += f" RETURNING {_RETURNED}"
        width = fields + len(constants)
        one_row = f"({', '.join(['%s'] * width)})"
        limit = self.max_params // width
        returned: list[tuple[Any, ...]] = []
        with connection.cursor() as cursor:
            for start in range(0, len(values), limit):
                chunk = [[*row, *constants] for row in values[start : start + limit]]
                try:
                    cursor.execute(
                        f"{into}VALUES {', '.join([one_row] * len(chunk))}{tail}",
                        [value for row in chunk for value in row],
                    )
                    returned += cursor.fetchall()
                except IntegrityError:
                    logger.debug("an occurrence was already recorded; inserting one by one")
                    for row, new in zip(chunk, rows[start : start + limit], strict=True):
                        try:
                            cursor.execute(f"{into}VALUES {one_row}{tail}", row)
                        except IntegrityError:
                            logger.debug(
                                "occurrence %s of %s recorded already", new.fire_time, new.job_id
                            )
                            continue
                        returned += cursor.fetchall()
        return _converted(returned, connection)


class SQLiteDialect(Dialect):
    """UPDATE ... FROM a VALUES list (SQLite 3.33+), RETURNING (3.35+), INSERT ... ON
    CONFLICT DO NOTHING."""

    def __init__(self, connection: Any) -> None:
        version = connection.Database.sqlite_version_info
        self.update_from = version >= (3, 33)
        self.update_returning = version >= (3, 35)
        self.insert_returning = bool(connection.features.can_return_rows_from_bulk_insert)
        # SQLite's compiled-in limit (32766 since 3.32; Django assumes 999).
        connection.ensure_connection()
        self.max_params = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)

    def advance(
        self, rows: Sequence[DueSchedule], plans: dict[int, SchedulePlan], now: datetime, using: str
    ) -> set[int]:
        if not self.update_from:
            return super().advance(rows, plans, now, using)
        adapt = _datetime_adapter(connections[using])
        batch = _batch(rows, plans, adapt)
        # A VALUES list names its columns column1, column2, ...
        source = (
            "(SELECT column1 AS vid, column2 AS vversion, column3 AS vnext, column4 AS verror "  # noqa: S608
            "FROM (VALUES {})) AS v".format(", ".join(["(%s, %s, %s, %s)"] * len(batch)))
        )
        params = [adapt(now), *(value for row in batch for value in row)]
        return self._update_from(source, params, rows, using)

    def insert(self, rows: list[NewRow], using: str) -> list[Inserted]:
        if not self.insert_returning:
            return _insert_each(rows, using)
        return self._insert_values(rows, using, tail=_ON_CONFLICT)

    def _start_sql(
        self, rows: Sequence[tuple[int, datetime]], epoch: int | None, worker: str, using: str
    ) -> tuple[str, list[Any]] | None:
        if not self.update_from:
            return None
        adapt = _datetime_adapter(connections[using])
        table, sets, where, set_params, where_params = self._start_parts(epoch, worker, using)
        source = "(SELECT column1 AS vid, column2 AS vstart FROM (VALUES {})) AS v".format(  # noqa: S608
            ", ".join(["(%s, %s)"] * len(rows))
        )
        values = [value for pk, at in rows for value in (pk, adapt(at))]
        sql = f"UPDATE {table} SET {sets} FROM {source} WHERE {where}"  # noqa: S608
        return sql, [*set_params, *values, *where_params]


class PostgreSQLDialect(Dialect):
    """The batch as one array per column (unnest): a handful of parameters whatever its size
    (thousands of scalar parameters cost more to send than to run)."""

    update_from = True
    update_returning = True
    insert_returning = True

    def advance(
        self, rows: Sequence[DueSchedule], plans: dict[int, SchedulePlan], now: datetime, using: str
    ) -> set[int]:
        if not self.update_from:
            return super().advance(rows, plans, now, using)
        adapt = _datetime_adapter(connections[using])
        batch = _batch(rows, plans, adapt)
        source = (
            "unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::text[]) "
            "AS v (vid, vversion, vnext, verror)"
        )
        params = [adapt(now), *(list(column) for column in zip(*batch, strict=True))]
        return self._update_from(source, params, rows, using)

    def insert(self, rows: list[NewRow], using: str) -> list[Inserted]:
        if not self.insert_returning:
            return _insert_each(rows, using)
        connection = connections[using]
        into, _width, constants = _into(connection)
        fields, fixed = _execution_fields()
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
        defaults = "".join(f", %s::{f.db_type(connection)}" for f in fixed)
        with connection.cursor() as cursor:
            cursor.execute(
                f"{into}SELECT v.*{defaults} FROM unnest({arrays}) AS v"  # noqa: S608
                f"{_ON_CONFLICT} RETURNING {_RETURNED}",
                [*constants, *map(list, zip(*_adapted(rows, connection), strict=True))],
            )
            returned = cursor.fetchall()
        return _converted(returned, connection)

    def _start_sql(
        self, rows: Sequence[tuple[int, datetime]], epoch: int | None, worker: str, using: str
    ) -> tuple[str, list[Any]] | None:
        table, sets, where, set_params, where_params = self._start_parts(epoch, worker, using)
        source = "unnest(%s::bigint[], %s::timestamptz[]) AS v (vid, vstart)"
        values = [[pk for pk, _ in rows], [at for _, at in rows]]
        sql = f"UPDATE {table} SET {sets} FROM {source} WHERE {where}"  # noqa: S608
        return sql, [*set_params, *values, *where_params]


class MySQLDialect(Dialect):
    """MariaDB/MySQL: no UPDATE ... FROM, so UPDATE ... JOIN a derived table of the batch,
    and no UPDATE ... RETURNING, so the winners are read back. INSERT ... RETURNING on
    MariaDB 10.5+ (not MySQL); a duplicate occurrence is reported, not skipped."""

    update_from = True

    def __init__(self, connection: Any) -> None:
        self.insert_returning = bool(connection.features.can_return_rows_from_bulk_insert)

    def advance(
        self, rows: Sequence[DueSchedule], plans: dict[int, SchedulePlan], now: datetime, using: str
    ) -> set[int]:
        if not self.update_from:
            return super().advance(rows, plans, now, using)
        connection = connections[using]
        adapt = _datetime_adapter(connection)
        batch = _batch(rows, plans, adapt)
        table = connection.ops.quote_name(Schedule._meta.db_table)
        source = "({}) AS v".format(
            " UNION ALL ".join(
                ["SELECT %s AS vid, %s AS vversion, %s AS vnext, %s AS verror"]
                + ["SELECT %s, %s, %s, %s"] * (len(batch) - 1)
            )
        )
        assignments = ", ".join(f"{table}.{column} = {value}" for column, value in _sets(table))
        sql = f"UPDATE {table} JOIN {source} ON {_match(table)} SET {assignments}"  # noqa: S608
        params = [*(value for row in batch for value in row), adapt(now)]  # JOIN's, then SET's
        won = _lock_unchanged(rows, using)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return won

    def _start_sql(
        self, rows: Sequence[tuple[int, datetime]], epoch: int | None, worker: str, using: str
    ) -> tuple[str, list[Any]] | None:
        adapt = _datetime_adapter(connections[using])
        table, sets, where, set_params, where_params = self._start_parts(epoch, worker, using)
        source = "({}) AS v".format(
            " UNION ALL ".join(
                ["SELECT %s AS vid, %s AS vstart"] + ["SELECT %s, %s"] * (len(rows) - 1)
            )
        )
        values = [value for pk, at in rows for value in (pk, adapt(at))]
        qualified = ", ".join(f"{table}.{part.strip()}" for part in sets.split(", "))
        sql = f"UPDATE {table} JOIN {source} ON {where} SET {qualified}"  # noqa: S608
        return sql, [*values, *where_params, *set_params]


def dialect_for(using: str) -> Dialect:
    connection = connections[using]
    key = (using, connection.vendor)
    found = _dialects.get(key)
    if found is None:
        if connection.vendor == "sqlite":
            found = SQLiteDialect(connection)
        elif connection.vendor == "postgresql":
            found = PostgreSQLDialect()
        elif connection.vendor == "mysql":
            found = MySQLDialect(connection)
        else:
            found = Dialect()
        _dialects[key] = found
    return found


_dialects: dict[tuple[str, str], Dialect] = {}

_ON_CONFLICT = " ON CONFLICT (schedule_id, fire_time) DO NOTHING"


def _batch(
    rows: Sequence[DueSchedule],
    plans: dict[int, SchedulePlan],
    adapt: Callable[[datetime | None], Any],
) -> list[tuple[Any, ...]]:
    """The batch as rows of (id, version, new next_run_at, error or NULL)."""
    return [
        (r.pk, r.version, adapt(plans[r.pk].next_run_at), plans[r.pk].error[:2000] or None)
        for r in rows
    ]


def _sets(table: str) -> list[tuple[str, str]]:
    # Names come from the model; every value is a parameter (last_error_at's is `now`).
    return [
        ("next_run_at", "v.vnext"),
        ("version", f"{table}.version + 1"),
        ("last_error", f"COALESCE(v.verror, {table}.last_error)"),
        ("last_error_at", f"CASE WHEN v.verror IS NULL THEN {table}.last_error_at ELSE %s END"),
    ]


def _match(table: str) -> str:
    return f"{table}.id = v.vid AND {table}.version = v.vversion"


def _lock_unchanged(rows: Sequence[DueSchedule], using: str) -> set[int]:
    """Lock the batch's rows (in pk order) and return the pks of those still at the version
    the claim read: the rows its UPDATE will move, which nobody else can move now. Without
    UPDATE ... RETURNING this is how a claim knows what it moved; reading the versions after
    the UPDATE cannot tell, under READ COMMITTED (Django's default on MariaDB and MySQL), an
    edit committed since the claim's read (one version on) from the claim's own move
    (tests/store/test_claim_races_an_edit.py). On SQLite the claim's write lock already
    keeps every other writer out, and FOR UPDATE is left out."""
    versions = dict(
        Schedule.objects.using(using)
        .select_for_update()
        .filter(pk__in=[r.pk for r in rows])
        .order_by("pk")
        .values_list("pk", "version")
    )
    return {r.pk for r in rows if versions.get(r.pk) == r.version}


def _execution_fields() -> tuple[list[Any], list[Any]]:
    """The Execution fields a claim fills per row (in NewRow order), and the others."""
    by_column = {f.column: f for f in Execution._meta.concrete_fields if not f.primary_key}
    fields = [by_column.pop(c) for c in NewRow._fields]
    return fields, list(by_column.values())


def _into(connection: Any) -> tuple[str, int, list[Any]]:
    """``INSERT INTO execution (<every column>) ``, the count of per-row columns, and the
    values of the others (their defaults; created_at: now)."""
    fields, fixed = _execution_fields()
    stamp = timezone.now()
    constants = [
        f.get_db_prep_save(
            stamp if getattr(f, "auto_now_add", False) else f.get_default(), connection
        )
        for f in fixed
    ]
    qn = connection.ops.quote_name
    table = qn(Execution._meta.db_table)
    into = f"INSERT INTO {table} ({', '.join(qn(str(f.column)) for f in (*fields, *fixed))}) "
    return into, len(fields), constants


def _adapted(rows: list[NewRow], connection: Any) -> list[list[Any]]:
    adapt = _datetime_adapter(connection)
    values: list[list[Any]] = [list(row) for row in rows]
    for row in values:
        for i in _DATETIMES:
            row[i] = adapt(row[i])
    return values


def _converted(returned: list[tuple[Any, ...]], connection: Any) -> list[Inserted]:
    convert = _datetime_converter(connection)
    return [
        Inserted(pk, sid, convert(fire), convert(run_at), status)  # type: ignore[arg-type]
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


def _insert_each(rows: list[NewRow], using: str) -> list[Inserted]:
    """``bulk_create``, then the ids read back when the database could not return them."""
    parsed = (
        row._replace(args=json.loads(row.args), kwargs=json.loads(row.kwargs)) for row in rows
    )
    objs = [Execution(**row._asdict()) for row in parsed]
    try:
        # A duplicate key aborts the whole transaction on PostgreSQL: use a savepoint.
        with transaction.atomic(using=using):
            created = Execution.objects.using(using).bulk_create(objs)
    except IntegrityError:
        logger.debug("an occurrence was already recorded; inserting one by one")
        created = []
        for obj in objs:
            obj.pk = None
            try:
                with transaction.atomic(using=using):
                    obj.save(using=using, force_insert=True)
                created.append(obj)
            except IntegrityError:
                logger.debug("occurrence %s of %s already recorded", obj.fire_time, obj.job_id)
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
    return [Inserted(x.pk, x.schedule_id, x.fire_time, x.run_at, x.status) for x in created]  # type: ignore[arg-type]
