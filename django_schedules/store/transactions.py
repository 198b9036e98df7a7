"""Transactions on the app's database, the one retry helper, and the idle-transaction guard.

Every store function honours ``SCHEDULES_DATABASE``: querysets use ``.using(alias)`` and
transactions ``transaction.atomic(using=alias)`` (through ``write_transaction``, which also
makes SQLite take its write lock up front).
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.backends.signals import connection_created

from django_schedules.conf import SQLITE_SYNCHRONOUS, conf
from django_schedules.models import Execution, ExecutionQuerySet

_T = TypeVar("_T")
_P = ParamSpec("_P")

logger = logging.getLogger("django_schedules.store")

# The PostgreSQL LISTEN/NOTIFY channel the scheduler listens on to wake early.
NOTIFY_CHANNEL = "django_schedules"

# How long a worker keeps retrying its own writes through a flaky connection or a restarting
# server before it gives up (the run is then marked lost by the heartbeat sweep).
TRANSIENT_PATIENCE = 60.0


def database_alias(using: str | None = None) -> str:
    return using or conf.SCHEDULES_DATABASE


def executions(using: str | None = None) -> ExecutionQuerySet:
    """``Execution.objects.using(alias)``, with its named querysets."""
    return Execution.objects.using(database_alias(using))


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
    lock = _sqlite_writer(connection)
    if not lock.acquire(timeout=_busy_timeout(connection)):
        raise OperationalError("database is locked (another thread of this process writes)")
    try:
        with transaction.atomic(using=alias):
            yield alias
    finally:
        lock.release()
        connection.transaction_mode = original  # type: ignore[attr-defined]


# SQLite allows one writer at a time. Threads of one process that wait for each other in
# SQLite's busy handler sleep 1, 2, 5, 10... ms and are not woken when the lock frees: under
# load the scheduler's claim and the thread pool's group commit spent half their time asleep
# there (benchmarks/sustained.py with --profile). Our own write transactions wait on a lock
# of this process instead, which wakes the next writer at once; other processes still meet
# at SQLite's lock.
_SQLITE_WRITERS: dict[str, threading.Lock] = {}
_SQLITE_WRITERS_GUARD = threading.Lock()


def _sqlite_writer(connection: Any) -> threading.Lock:
    name = str(connection.settings_dict["NAME"])
    with _SQLITE_WRITERS_GUARD:
        return _SQLITE_WRITERS.setdefault(name, threading.Lock())


def _busy_timeout(connection: Any) -> float:
    """The connection's busy timeout (OPTIONS["timeout"], Python's default 5 s)."""
    return float(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5.0))


def notify_change(using: str | None = None) -> None:
    """Tell a sleeping scheduler that schedules changed; call inside the writing transaction.

    PostgreSQL delivers ``pg_notify`` at commit (and drops it on rollback). Other databases
    need nothing here: the scheduler notices changes by polling.
    """
    connection = connections[database_alias(using)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])


# Retrying.


def _is_lock_error(exc: BaseException) -> bool:
    """True for a transient lock conflict worth retrying on any of our three databases."""
    text = str(exc).lower()
    if "database is locked" in text or "database table is locked" in text:
        return True  # SQLite: the busy timeout ran out.
    code = exc.args[0] if exc.args else None
    # MySQL/MariaDB: 1213 deadlock, 1205 lock wait timeout; PostgreSQL: a deadlock.
    return code in (1213, 1205) or "deadlock detected" in text


def retry(
    attempt: Callable[[], _T],
    *,
    using: str | None = None,
    transient: bool = False,
    once_in_transaction: bool = False,
    attempts: int = 8,
    first_delay: float = 0.01,
) -> _T:
    """Call `attempt` (one whole transaction, or one statement) until it gets through.

    Lock conflicts (a MariaDB deadlock, SQLite's busy timeout) are normal under contention:
    retried up to `attempts` times with backoff, logged at debug level, the last re-raised.
    With `transient`, also a dropped connection or a restarting server: retried with backoff
    for up to TRANSIENT_PATIENCE seconds, reconnecting between tries; a try whose reply was
    lost may have landed (an ambiguous commit), so `attempt` must be safe to repeat.

    Inside the caller's own transaction a retry is impossible (the transaction's owner retries
    the whole of it): `attempt` then runs once when `transient` or `once_in_transaction`.
    """
    alias = database_alias(using)
    if (transient or once_in_transaction) and connections[alias].in_atomic_block:
        return attempt()
    if transient:
        return _retry_transient(attempt, alias)
    for tried in range(1, attempts + 1):
        try:
            return attempt()
        except (OperationalError, DatabaseError) as exc:
            if tried == attempts or not _is_lock_error(exc):
                raise
            delay = first_delay * 2 ** (tried - 1) * (0.5 + random.random())  # noqa: S311
            logger.debug("lock conflict on %r (attempt %d), retry in %.3fs", alias, tried, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def _retry_transient(attempt: Callable[[], _T], using: str) -> _T:
    connection = connections[using]
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


def retrying(
    *, transient: bool = False, once_in_transaction: bool = False
) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
    """Decorate a store function that takes ``using``: each call goes through ``retry`` on
    that alias with these options, so the whole function must be safe to repeat."""

    def decorate(func: Callable[_P, _T]) -> Callable[_P, _T]:
        position = list(inspect.signature(func).parameters).index("using")

        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            using: Any = kwargs["using"] if "using" in kwargs else args[position]
            return retry(
                functools.partial(func, *args, **kwargs),
                using=using,
                transient=transient,
                once_in_transaction=once_in_transaction,
            )

        return wrapper

    return decorate


def retry_locked(
    func: Callable[[], _T], *, using: str, attempts: int = 8, first_delay: float = 0.01
) -> _T:
    """``retry`` for lock conflicts, even inside the caller's transaction (the executors'
    group commit calls it)."""
    return retry(func, using=using, attempts=attempts, first_delay=first_delay)


def retry_transient(attempt: Callable[[], _T], using: str) -> _T:
    """``retry(attempt, using=using, transient=True)`` (the executors call it)."""
    return retry(attempt, using=using, transient=True)


# SQLite's durability, in the scheduler's own process.


def sqlite_synchronous(using: str, level: str) -> Callable[[], None]:
    """Set ``PRAGMA synchronous = <level>`` on every connection this process opens to `using`
    (and the one open now) while the database is in WAL mode; return a function that stops
    doing so for new connections. For ``runscheduler``, whose process is all the scheduler's.

    SQLite's own default, FULL, waits for the disk at every commit (about 2 ms here): under
    WAL, NORMAL waits only at checkpoints, and a commit still survives a crash of the process,
    but the last ones may be lost when the machine loses power or the OS crashes. In
    rollback-journal modes NORMAL could corrupt the file on a power cut: there nothing is
    changed. ``SCHEDULES_SQLITE_SYNCHRONOUS`` picks the level (docs/guarantees.md).
    """

    if level not in SQLITE_SYNCHRONOUS:
        raise ValueError(
            f"SCHEDULES_SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS)}, "
            f"got {level!r}"
        )

    def tune(connection: Any) -> None:
        if connection.vendor != "sqlite":
            return
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            (mode,) = cursor.fetchone()
            if str(mode).lower() == "wal":
                cursor.execute(f"PRAGMA synchronous = {level}")

    def on_created(sender: object, connection: Any, **kwargs: object) -> None:
        if connection.alias == using:
            tune(connection)

    connection_created.connect(on_created, weak=False)
    if using in connections.databases and connections[using].connection is not None:
        tune(connections[using])

    def stop() -> None:
        connection_created.disconnect(on_created)

    return stop


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
