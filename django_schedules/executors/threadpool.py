"""In-process executors: inline (the caller's thread) and a pool of threads."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from django.db import connections

from django_schedules.executors.base import Executor, _start_at
from django_schedules.groupcommit import GroupCommit
from django_schedules.runner import run_execution_now

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

    A thread cannot be killed: a run past its timeout is marked failed and left to end (its
    late result is dropped); an ``async def`` job on the AsyncIOScheduler's loop is cancelled.
    """

    def __init__(self, name: str, options: dict[str, Any], *, using: str) -> None:
        super().__init__(name, options, using=using)
        self.max_workers = int(options.get("max_workers", 10))
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {self.max_workers!r}")
        self._queue: queue.SimpleQueue[tuple[int, int | None, float | None] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        # SQLite: the runs' starts and finishes committed together (GroupCommit says why).
        self._commit = (
            GroupCommit(using, name=f"schedules-{name}-commit")
            if connections[using].vendor == "sqlite"
            else None
        )

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        if self._closed:
            raise RuntimeError(f"executor {self.name!r} is shut down")
        self._track(execution_id, timeout, start_in)
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
        self._queue.put((execution_id, epoch, _start_at(start_in)))

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
                execution_id, epoch, start_at = item
                try:
                    run_execution_now(
                        execution_id,
                        epoch,
                        self.using,
                        start_at,
                        loop=self.loop,
                        commit=self._commit,
                    )
                except Exception:
                    logger.exception("execution %d could not be run", execution_id)
                finally:
                    self._untrack(execution_id)
        finally:
            connections.close_all()

    def close(self) -> None:
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=0.5)
        if self._commit is not None:
            self._commit.close()  # a thread still running then writes on its own
