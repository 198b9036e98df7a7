"""In-process executors: inline (the caller's thread) and a pool of threads."""

from __future__ import annotations

import heapq
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

from django.db import connections

from django_schedules import store
from django_schedules.executors.base import Executor, _start_at
from django_schedules.groupcommit import GroupCommit
from django_schedules.models import ExecutionStatus
from django_schedules.runner import dropped, finished, planned_start, run_execution_now, run_started

_T = TypeVar("_T")
_I = TypeVar("_I")

logger = logging.getLogger("django_schedules.executors")


class InlineExecutor(Executor):
    """Run each execution in the caller's thread: for tests and ``--once``."""

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        self._track(execution_id, timeout, start_in)
        try:
            run_execution_now(execution_id, epoch, self.using, _start_at(start_in), loop=self.loop)
        finally:
            self._untrack(execution_id)


class ThreadPoolExecutor(Executor):
    """A bounded pool of threads (``max_workers``, default 10), started on demand.

    A run goes through three stages, so that a pool thread is busy only while a job runs:

    - the **starter** thread takes every execution handed over since its last pass and starts
      them together (one compare-and-swap statement, ``store.start_executions``), ahead of
      their instant (the scheduler hands them over its look-ahead early);
    - the **releaser** thread hands each won run to a pool thread on its instant. It never
      waits for the database: a start batch's commit (an fsync on PostgreSQL) would otherwise
      make every run falling due meanwhile that much late;
    - a **pool thread** calls the job (retries included) and passes its end on;
    - the **finisher** thread records the ends waiting together (``store.finish_executions``)
      and sends the signals.

    On SQLite the starter's and the finisher's batches share one group commit
    (:class:`~django_schedules.groupcommit.GroupCommit`). A thread cannot be killed: a run past
    its timeout is marked failed and left to end (its late result is dropped); an
    ``async def`` job on the AsyncIOScheduler's loop is cancelled.
    """

    def __init__(self, name: str, options: dict[str, Any], *, using: str) -> None:
        super().__init__(name, options, using=using)
        self.max_workers = int(options.get("max_workers", 10))
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {self.max_workers!r}")
        self._queue: queue.SimpleQueue[tuple[store.RunSpec, float] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        # SQLite: the starts and the ends committed together (GroupCommit says why).
        self._commit = (
            GroupCommit(using, name=f"schedules-{name}-commit")
            if connections[using].vendor == "sqlite"
            else None
        )
        self._starter = _Stage(f"schedules-{name}-starter", self._start_some)
        self._releaser = _Stage(f"schedules-{name}-releaser", self._wait_for, self._release)
        self._finisher = _Stage(f"schedules-{name}-finisher", self._finish_some)
        # Started runs waiting for their instant: (monotonic start, id, spec); the releaser's.
        self._due: list[tuple[float, int, store.RunSpec]] = []
        self._started: set[int] = set()  # won by the starter, their end not yet recorded
        self.worker = f"{socket.gethostname()}:{os.getpid()}:schedules-{name}"

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        if self._closed:
            raise RuntimeError(f"executor {self.name!r} is shut down")
        self._track(execution_id, timeout, start_in)
        start_at = time.monotonic() + max(start_in, 0.0)
        self._starter.put(store.Start(execution_id, epoch, planned_start(start_at)), start_at)

    def _write(self, write: Callable[[], _T]) -> _T:
        return self._commit.write(write) if self._commit is not None else write()

    # The starter.

    def _start_some(self, batch: list[tuple[store.Start, float]]) -> None:
        starts = [start for start, _ in batch]
        try:
            won = self._write(partial(store.start_executions, starts, self.worker, self.using))
        except Exception:
            # Left pending and let go of: the scheduler dispatches them again (dropped_some).
            logger.exception("could not start %d execution(s)", len(starts))
            won = {}
            self._dropped.set()
        for start, start_at in batch:
            spec = won.pop(start.execution_id, None)  # a second delivery gets nothing
            if spec is not None:
                with self._lock:
                    self._started.add(start.execution_id)
                self._releaser.put(spec, start_at)
                continue
            with self._lock:
                ours = start.execution_id in self._started
            if not ours:  # else handed over twice: its first delivery runs it
                logger.debug("execution %d is not ours to start", start.execution_id)
                self._untrack(start.execution_id)

    # The releaser.

    def _wait_for(self, batch: list[tuple[store.RunSpec, float]]) -> None:
        for spec, start_at in batch:
            heapq.heappush(self._due, (start_at, spec.execution_id, spec))

    def _release(self) -> float | None:
        """Hand the runs whose instant came to the pool; return the next instant."""
        now = time.monotonic()
        while self._due and self._due[0][0] <= now + _EARLY:
            start_at, _id, spec = heapq.heappop(self._due)
            self._hand_over(spec, start_at)
        return self._due[0][0] if self._due else None

    def _hand_over(self, spec: store.RunSpec, start_at: float) -> None:
        with self._lock:
            # A little over-spawning under a burst is harmless: the pool stays bounded.
            need_thread = self._idle == 0 and len(self._threads) < self.max_workers
            if need_thread:
                thread = threading.Thread(
                    target=self._work,
                    name=f"schedules-{self.name}-{len(self._threads) + 1}",
                    daemon=True,
                )
                self._threads.append(thread)
        if need_thread:
            thread.start()
        self._queue.put((spec, start_at))

    # The pool.

    def _work(self) -> None:
        try:
            while True:
                with self._lock:
                    self._idle += 1
                item = self._queue.get()
                with self._lock:
                    self._idle -= 1
                if item is None:
                    return
                self._run_one(*item)
        finally:
            connections.close_all()

    def _run_one(self, spec: store.RunSpec, start_at: float) -> None:
        ended: list[store.Finish] = []

        def record(end: store.Finish) -> None:
            ended.append(end)
            self._finisher.put_now(end)  # the finisher untracks it once written

        late = time.monotonic() - start_at
        grace = spec.misfire_grace_time
        if grace is not None and late > grace and spec.attempt == 1:
            # Every thread was busy past the schedule's grace: its misfire rule, at the start.
            record(
                store.Finish(
                    spec.execution_id,
                    spec.attempt,
                    ExecutionStatus.MISSED,
                    datetime.now(UTC),
                    timedelta(0),
                    reason=f"missed: no worker was free for {late:.1f} s, past its "
                    f"misfire_grace_time of {grace} s",
                    overlap=spec.overlap,  # its end releases the next buffered run
                )
            )
            return
        try:
            run_started(
                spec, self.using, start_at, write=self._write, record=record, loop=self.loop
            )
        except Exception:
            logger.exception("execution %d could not be run", spec.execution_id)
        finally:
            if not ended:  # finished elsewhere meanwhile (timed out, lost), or it failed here
                with self._lock:
                    self._started.discard(spec.execution_id)
                self._untrack(spec.execution_id)

    # The finisher.

    def _finish_some(self, batch: list[tuple[store.Finish, float]]) -> None:
        ends = [end for end, _ in batch]
        try:
            done = self._write(partial(store.finish_executions, ends, self.using))
        except Exception:
            # Left running: marked lost once its heartbeat stops (docs/guarantees.md).
            logger.exception("could not record the end of %d execution(s)", len(ends))
            done = set()
        for end in ends:
            with self._lock:
                self._started.discard(end.execution_id)
            self._untrack(end.execution_id)
            if end.execution_id in done:
                finished(end, self.using)
            else:
                dropped(end.execution_id)

    def close(self) -> None:
        self._closed = True
        self._starter.close()
        self._releaser.close()  # after the starter: what it won is handed over first
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=0.5)
        self._finisher.close()  # what the pool ended is recorded first
        if self._commit is not None:
            self._commit.close()  # a thread still running then writes on its own


# A run is handed to its pool thread this early (seconds), the thread's wake-up's worth; the
# runner waits out the rest, so no job starts before its instant.
_EARLY = 0.0005


class _Stage(Generic[_I]):
    """A thread that takes every item put since its last pass and handles them together
    (``handle``); ``tick``, when given, is called after each pass and when the time it
    returned comes (a monotonic instant, or None to wait for items)."""

    def __init__(
        self,
        name: str,
        handle: Callable[[list[tuple[_I, float]]], None],
        tick: Callable[[], float | None] | None = None,
    ) -> None:
        self.name = name
        self._handle = handle
        self._tick = tick
        self._items: list[tuple[_I, float]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def put(self, item: _I, at: float = 0.0) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._items.append((item, at))
            self._cond.notify()

    def put_now(self, item: _I) -> None:
        self.put(item)

    def _run(self) -> None:
        wake: float | None = None
        try:
            while True:
                with self._cond:
                    while not self._items:
                        if self._closed and wake is None:
                            return
                        now = time.monotonic()
                        if wake is not None and wake <= now:
                            break
                        self._cond.wait(None if wake is None else wake - now)
                    batch, self._items = self._items, []
                if batch:
                    self._handle(batch)
                if self._tick is not None:
                    wake = self._tick()
        finally:
            connections.close_all()

    def close(self) -> None:
        """Handle what is waiting (and, with ``tick``, what is due: until none is), then
        stop the thread."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify()
        if thread is not None:
            thread.join()
