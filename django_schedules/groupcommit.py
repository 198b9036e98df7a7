"""Commit the small writes of many threads together (a thread pool on SQLite): see
:class:`GroupCommit`."""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, connections, transaction

from django_schedules import store

logger = logging.getLogger("django_schedules.executors")

_T = TypeVar("_T")


class GroupCommit:
    """Commit the small writes of many threads together: one SQLite transaction for all the
    runs' starts and finishes that are waiting, rather than one each.

    SQLite has one writer at a time, a thread that finds the lock taken sleeps in SQLite's
    busy handler (1, 2, 5, 10 ms... it is not woken when the lock frees), and with
    ``synchronous=FULL`` (SQLite's default) every commit waits for the disk, about 2 ms here. A
    thread pool writing each run's start and finish in a transaction of its own then falls
    behind at a few hundred runs a second, and the next occurrence of a 1-second schedule
    finds the previous run unfinished: ``skipped`` by ``max_instances``
    (benchmarks/race.py; docs/executors.md). One writer thread takes every write waiting,
    runs each in a savepoint of one ``BEGIN IMMEDIATE`` transaction (one failing does not
    undo the others), commits once, and hands each caller its own result or error.
    """

    def __init__(self, using: str, *, name: str) -> None:
        self.using = using
        self.name = name
        self._queue: queue.SimpleQueue[
            tuple[Callable[[], Any], concurrent.futures.Future[Any]] | None
        ] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def write(self, write: Callable[[], _T]) -> _T:
        """Run `write` (store calls for one row) in the next group transaction; return its
        result or raise its error once that transaction has committed. After ``close()``, run
        it at once in the caller's thread.

        A transient error (a flaky connection, a restart, a commit whose reply was lost) is
        tried again in a transaction of this write alone, in the caller's thread: retrying in
        later groups would starve under a flaky database, since the more writes a group holds
        the likelier one of its statements fails and takes the whole group down with it
        (tests/faults/). The store's writes recognise their own earlier success.
        """
        try:
            return self._write_once(write)
        except (OperationalError, InterfaceError) as exc:
            logger.debug("a group commit failed (%s): the write is tried alone", exc)
        return store.retry_transient(partial(self._write_alone, write), self.using)

    def _write_alone(self, write: Callable[[], _T]) -> _T:
        with store.write_transaction(self.using):
            return write()

    def _write_once(self, write: Callable[[], _T]) -> _T:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                return write()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._queue.put((write, future))
        return future.result()

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                while len(batch) < GROUP_COMMIT_MAX:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        self._queue.put(None)  # close() after this batch
                        break
                    batch.append(item)
                self._commit(batch)
        finally:
            connections.close_all()

    def _commit(
        self, batch: list[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]
    ) -> None:
        outcomes: list[tuple[bool, Any]] = []

        def attempt() -> None:
            outcomes.clear()
            with store.write_transaction(self.using):
                for write, _ in batch:
                    try:  # one outcome per write, even when its savepoint's RELEASE fails
                        with transaction.atomic(using=self.using):  # a savepoint
                            value = write()
                    except Exception as exc:
                        outcomes.append((False, exc))
                    else:
                        outcomes.append((True, value))
                if connections[self.using].needs_rollback:
                    # A savepoint could not be rolled back: the whole transaction will be, so
                    # the writes reported done would not be. Roll back and try the batch again.
                    raise OperationalError("a savepoint of the group commit was not rolled back")

        try:
            store.retry_locked(attempt, using=self.using)
        except Exception as exc:
            connections[self.using].close()  # reconnect for the next batch
            for _, future in batch:
                future.set_exception(exc)
            return
        for (ok, value), (_, future) in zip(outcomes, batch, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def close(self) -> None:
        """Commit what is queued and stop the writer thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
            self._queue.put(None)
        if thread is not None:
            thread.join()


# The most writes one group transaction takes (the rest wait for the next one).
GROUP_COMMIT_MAX = 100
