"""The process pool: spawned worker processes (``_spawn.worker_main``), one run at a time each."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from typing import Any

from django_schedules import _spawn, tracing
from django_schedules.executors.base import Executor

logger = logging.getLogger("django_schedules.executors")


class _Worker:
    """One spawned worker process of the process pool and the pipe to it."""

    def __init__(self, ctx: Any, name: str) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_spawn.worker_main, args=(child,), name=name, daemon=True)
        self.process.start()
        child.close()
        self.execution_id: int | None = None


class ProcessPoolExecutor(Executor):
    """A pool of processes started with ``spawn`` (never fork: a forked child would share the
    parent's database connections); each worker runs ``django.setup()`` and autodiscovers jobs.

    Up to ``max_workers`` processes, started on demand, each running one execution at a time.
    A run past its timeout is stopped for real: its worker process is killed and replaced.
    """

    def __init__(self, name: str, options: dict[str, Any], *, using: str) -> None:
        super().__init__(name, options, using=using)
        self.max_workers = int(options.get("max_workers", os.cpu_count() or 2))
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {self.max_workers!r}")
        self._ctx = multiprocessing.get_context("spawn")
        # (execution id, epoch, monotonic start instant)
        self._waiting: deque[tuple[int, int | None, float]] = deque()
        self._workers: list[_Worker] = []
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._manager: threading.Thread | None = None
        self._closed = False
        self._spawned = 0
        self._warm = False  # spawn every worker on the manager's next pass

    def warm(self) -> None:
        """Spawn the ``max_workers`` processes now, in the background: each takes about a
        second (``spawn`` and ``django.setup()``), which the first runs would otherwise wait."""
        with self._lock:
            if self._closed:
                return
            self._warm = True
            self._ensure_manager()
        self._wake()

    def _ensure_manager(self) -> None:
        if self._manager is None:  # under self._lock
            self._manager = threading.Thread(
                target=self._manage, name=f"schedules-{self.name}-pool", daemon=True
            )
            self._manager.start()

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        # Our monotonic clock's instant; a worker is told the delay left when it is sent
        # the run (the pipe only makes it later), and the runner waits for it after the
        # start's compare-and-swap: a run never starts before its time.
        if self._closed:
            raise RuntimeError(f"executor {self.name!r} is shut down")
        self._track(execution_id, timeout, start_in)
        with self._lock:
            self._waiting.append((execution_id, epoch, time.monotonic() + max(start_in, 0.0)))
            self._ensure_manager()
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(None)

    def stop_run(self, execution_id: int) -> bool:
        """Kill the worker process running `execution_id`; it is replaced on demand."""
        with self._lock:
            worker = next((w for w in self._workers if w.execution_id == execution_id), None)
        if worker is None:
            return False
        worker.process.kill()
        return True

    def _manage(self) -> None:
        from multiprocessing.connection import wait

        while not self._closed:
            self._dispatch()
            with self._lock:
                conns = {w.conn: w for w in self._workers}
            for ready in wait([self._wake_r, *conns], timeout=1.0):
                if ready is self._wake_r:
                    with contextlib.suppress(EOFError, OSError):
                        while self._wake_r.poll():
                            self._wake_r.recv()
                    continue
                worker = conns[ready]
                try:
                    execution_id, error = worker.conn.recv()
                except (EOFError, OSError):
                    self._bury(worker)
                    continue
                if error:
                    logger.error("execution %d failed in its process: %s", execution_id, error)
                worker.execution_id = None
                self._untrack(execution_id)

    def _dispatch(self) -> None:
        with self._lock:
            while self._warm and len(self._workers) < self.max_workers:
                self._spawned += 1
                self._workers.append(_Worker(self._ctx, f"schedules-{self.name}-{self._spawned}"))
            self._warm = False
            while self._waiting:
                worker = next((w for w in self._workers if w.execution_id is None), None)
                if worker is None:
                    if len(self._workers) >= self.max_workers:
                        return
                    self._spawned += 1
                    worker = _Worker(self._ctx, f"schedules-{self.name}-{self._spawned}")
                    self._workers.append(worker)
                execution_id, epoch, start_at = self._waiting.popleft()
                delay = max(start_at - time.monotonic(), 0.0)
                try:
                    trace = tracing.carrier_for(execution_id)
                    worker.conn.send((execution_id, epoch, self.using, delay, trace))
                except OSError:  # it died idle: replace it and try again
                    self._waiting.appendleft((execution_id, epoch, start_at))
                    self._workers.remove(worker)
                    worker.process.kill()
                    continue
                worker.execution_id = execution_id

    def _bury(self, worker: _Worker) -> None:
        """A worker died (killed past its timeout, or crashed): forget it and its run."""
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
        worker.conn.close()
        worker.process.join(timeout=5)
        if worker.execution_id is not None:
            logger.warning(
                "worker process %s of executor %r ended during execution %d (exit code %s)",
                worker.process.pid,
                self.name,
                worker.execution_id,
                worker.process.exitcode,
            )
            self._untrack(worker.execution_id)

    def close(self) -> None:
        self._closed = True
        self._wake()
        if self._manager is not None:
            self._manager.join(timeout=5)
        with self._lock:
            workers, self._workers = self._workers, []
            self._waiting.clear()
        for worker in workers:
            with contextlib.suppress(OSError):
                if worker.execution_id is None:
                    worker.conn.send(None)
                else:
                    worker.process.kill()  # past the shutdown grace: recorded lost
        for worker in workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()
