"""Waking the scheduler loop early: a stop, or a change to the schedules (SQLite's
``PRAGMA data_version``, PostgreSQL's LISTEN), ends its sleep before the timeout."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import DatabaseError, connections

from django_schedules import store

logger = logging.getLogger("django_schedules.scheduler")


class _Waker:
    """Sleep until a timeout, a stop, or (in subclasses) a change to the schedules."""

    notifies = False  # True when a change to the schedules wakes it (LISTEN)

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.armed = False  # True once a change would be noticed (tests wait for it)

    def wait(self, timeout: float) -> None:
        self.armed = True
        self.stop.wait(timeout)

    def close(self) -> None:
        """Release what the waker holds."""


class _SqliteWaker(_Waker):
    """``PRAGMA data_version`` changes when another connection commits: a free probe."""

    def __init__(self, stop: threading.Event, using: str) -> None:
        super().__init__(stop)
        self.using = using
        self.version: int | None = None

    def _read(self) -> int:
        with connections[self.using].cursor() as cursor:
            cursor.execute("PRAGMA data_version")
            return int(cursor.fetchone()[0])

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        try:
            self._watch(deadline)
        except DatabaseError as exc:  # flaky or locked: sleep the rest; the next tick copes
            logger.debug("PRAGMA data_version failed: %s", exc)
            self.version = None
            super().wait(max(deadline - time.monotonic(), 0.0))

    def _watch(self, deadline: float) -> None:
        if self.version is None:
            self.version = self._read()
            self.armed = True
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.stop.wait(min(left, 0.05))
            version = self._read()
            if version != self.version:
                self.version = version
                return


class _PostgresWaker(_Waker):
    """LISTEN on a dedicated connection; ``pg_notify`` arrives at the writer's commit."""

    def __init__(self, stop: threading.Event, using: str) -> None:
        super().__init__(stop)
        self.using = using
        self.conn: Any = None

    def _connect(self) -> Any:
        if self.conn is None or self.conn.closed:
            wrapper = connections[self.using]
            raw = wrapper.get_new_connection(wrapper.get_connection_params())
            raw.autocommit = True
            raw.execute(f"LISTEN {store.NOTIFY_CHANNEL}")
            self.conn = raw
            self.armed = True
            self.notifies = True
        return self.conn

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        try:
            conn = self._connect()
            while not self.stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                # Short slices so stop() is noticed quickly.
                for _ in conn.notifies(timeout=min(left, 0.25), stop_after=1):
                    return
        except Exception as exc:  # The database went away: fall back to polling for now.
            logger.debug("LISTEN connection failed: %s", exc)
            self.notifies = False
            self.close()
            super().wait(max(deadline - time.monotonic(), 0))

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


def _make_waker(using: str, stop: threading.Event) -> _Waker:
    vendor = connections[using].vendor
    if vendor == "sqlite":
        return _SqliteWaker(stop, using)
    if vendor == "postgresql":
        return _PostgresWaker(stop, using)
    return _Waker(stop)  # MariaDB/MySQL: the one-query probe each poll interval is the marker.
