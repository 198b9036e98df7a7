"""The database's clock, in UTC, as a query expression.

Lease expiry and execution heartbeats are judged by the database's clock, never a host's, so
clock skew between hosts cannot hand a lease to two holders or call a live worker lost.
Django's ``Now()`` is not enough: on MySQL/MariaDB it is ``CURRENT_TIMESTAMP(6)`` in the
session's time zone while Django stores UTC.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Func
from django.db.models.sql.compiler import SQLCompiler


class DbNow(Func):
    """The current instant by the database's clock, in UTC, to the microsecond where possible."""

    template = "STATEMENT_TIMESTAMP()"
    output_field = DateTimeField()

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[str | int, ...]]:
        # STATEMENT_TIMESTAMP, not NOW(): NOW() is frozen at the start of the transaction.
        return "STATEMENT_TIMESTAMP()", ()

    def as_mysql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[str | int, ...]]:
        return "UTC_TIMESTAMP(6)", ()

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, tuple[str | int, ...]]:
        # Django stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC; this
        # compares correctly against that (milliseconds only).
        return "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW')", ()
