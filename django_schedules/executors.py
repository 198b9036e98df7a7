"""Where a claimed execution runs: a thread pool (default), a process pool, inline, or
Django's tasks framework.

Every executor ends up in :func:`run_execution_now`, which claims the row by CAS
``pending -> running`` (so a duplicate delivery never runs a job twice), runs the registered
callable with its retries, and finishes the row: status, duration, capped result, traceback,
worker identity. Only registered callables ever run; a row naming anything else is refused.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import multiprocessing
import os
import queue
import socket
import threading
import time
import traceback as tb
from abc import ABC, abstractmethod
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor as _StdProcessPool
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections
from django.utils.functional import cached_property
from django.utils.module_loading import import_string

from django_schedules import _spawn, store
from django_schedules.conf import conf
from django_schedules.exceptions import JobNotRegistered
from django_schedules.models import ExecutionStatus

logger = logging.getLogger("django_schedules.executors")


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def send_signals(using: str, execution_id: int, *names: str) -> None:
    """Send django_schedules.signals `names` with the Execution row as it is now (loaded only
    when a receiver is connected); a receiver's error is logged, never raised."""
    from django_schedules import signals
    from django_schedules.models import Execution

    wanted = [getattr(signals, n) for n in names]
    if not any(s.has_listeners(Execution) for s in wanted):
        return
    execution = Execution.objects.using(using).filter(pk=execution_id).first()
    if execution is None:
        return
    for signal, name in zip(wanted, names, strict=True):
        for receiver, response in signal.send_robust(sender=Execution, execution=execution):
            if isinstance(response, Exception):
                logger.error("receiver %r of %s raised %r", receiver, name, response)


def cap(text: str, limit: int | None = None) -> str:
    limit = conf.SCHEDULES_RESULT_MAX_CHARS if limit is None else limit
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def run_execution_now(
    execution_id: int,
    epoch: int | None = None,
    using: str | None = None,
    start_at: float | None = None,
) -> str:
    """Run one execution to its end in this thread; return its final status ("" if another
    worker or a newer lease holder has it).

    ``epoch``: an in-process executor passes the epoch it was dispatched under, so a row that a
    newer lease holder adopted is not started by the old one. ``start_at``: a
    ``time.monotonic()`` instant; the row is claimed first and the job starts then, so the
    claim's round trips do not make it late.
    """
    from django_schedules.registry import JobContext, get_registered

    using = using or conf.SCHEDULES_DATABASE
    worker = worker_identity()
    wait = 0.0 if start_at is None else max(start_at - time.monotonic(), 0.0)
    started_at = datetime.now(UTC) + timedelta(seconds=wait)
    spec = store.start_execution(execution_id, epoch, worker, started_at, using)
    if spec is None:
        logger.debug("execution %d is not ours to start", execution_id)
        return ""
    if start_at is not None and (left := start_at - time.monotonic()) > 0:
        time.sleep(left)
    send_signals(using, execution_id, "execution_started")
    attempt = spec.attempt
    started = time.monotonic()
    try:
        entry = get_registered(spec.func)
    except JobNotRegistered as exc:
        store.finish_execution(
            execution_id,
            attempt,
            ExecutionStatus.FAILED,
            finished_at=datetime.now(UTC),
            duration=timedelta(seconds=time.monotonic() - started),
            reason=f"callable not registered: {spec.func!r}",
            traceback=str(exc),
            using=using,
        )
        send_signals(using, execution_id, "execution_finished", "execution_failed")
        return ExecutionStatus.FAILED
    while True:
        context = JobContext(fire_time=spec.fire_time, execution_id=execution_id, attempt=attempt)
        try:
            value = entry.call(spec.args, spec.kwargs, context)
            if inspect.isawaitable(value):
                value = asyncio.run(_await(value))
        except Exception as exc:
            trace = tb.format_exc()
            if attempt <= spec.max_retries:
                delay = spec.retry_delay * 2 ** (attempt - 1)
                logger.info(
                    "execution %d attempt %d failed (%r); retry in %.3gs",
                    execution_id,
                    attempt,
                    exc,
                    delay,
                )
                time.sleep(delay)
                if not store.next_attempt(execution_id, attempt, using):
                    return ""  # Finished elsewhere meanwhile (timed out, lost).
                attempt += 1
                continue
            done = store.finish_execution(
                execution_id,
                attempt,
                ExecutionStatus.FAILED,
                finished_at=datetime.now(UTC),
                duration=timedelta(seconds=time.monotonic() - started),
                reason=cap(f"{type(exc).__name__}: {exc}", 500),
                traceback=cap(trace, 20_000),
                using=using,
            )
            if done:
                send_signals(using, execution_id, "execution_finished", "execution_failed")
            return ExecutionStatus.FAILED
        done = store.finish_execution(
            execution_id,
            attempt,
            ExecutionStatus.SUCCEEDED,
            finished_at=datetime.now(UTC),
            duration=timedelta(seconds=time.monotonic() - started),
            result="" if value is None else cap(repr(value)),
            using=using,
        )
        if not done:
            logger.warning(
                "execution %d finished after it was marked timed out or lost; result dropped",
                execution_id,
            )
            return ""
        send_signals(using, execution_id, "execution_finished")
        return ExecutionStatus.SUCCEEDED


async def _await(value: Any) -> Any:
    return await value


def _start_at(start_in: float) -> float | None:
    return time.monotonic() + start_in if start_in > 0 else None


class Executor(ABC):
    """Runs claimed executions. ``submit`` must not block the scheduler's loop."""

    def __init__(self, name: str, options: dict[str, Any], *, using: str) -> None:
        self.name = name
        self.options = options
        self.using = using
        self._lock = threading.Lock()
        # id -> (monotonic deadline, timeout) when the run has a timeout
        self._submitted: dict[int, tuple[float, float] | None] = {}

    @abstractmethod
    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        """Run the execution, starting the job `start_in` seconds from now (not before)."""

    @property
    def enqueues_in_transaction(self) -> bool:
        """True when ``submit`` only writes to our database, so the scheduler calls it inside
        the claim transaction (claim and enqueue commit together)."""
        return False

    def running_ids(self) -> list[int]:
        """Executions handed to this executor that have not ended yet."""
        with self._lock:
            return list(self._submitted)

    def _track(self, execution_id: int, timeout: float | None) -> None:
        with self._lock:
            self._submitted[execution_id] = (
                None if timeout is None else (time.monotonic() + timeout, timeout)
            )

    def _untrack(self, execution_id: int) -> None:
        with self._lock:
            self._submitted.pop(execution_id, None)

    def overdue(self) -> list[tuple[int, float]]:
        """(id, timeout) of executions past their timeout, each reported once."""
        now = time.monotonic()
        with self._lock:
            late = [(i, d[1]) for i, d in self._submitted.items() if d is not None and now >= d[0]]
            for i, _ in late:
                self._submitted[i] = None
            return late

    def shutdown(self, grace: float) -> list[int]:
        """Stop taking work, wait up to `grace` seconds; return ids still running."""
        deadline = time.monotonic() + grace
        while self.running_ids() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.close()
        return self.running_ids()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release threads and processes."""


class InlineExecutor(Executor):
    """Run each execution in the caller's thread: for tests and ``--once``."""

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        self._track(execution_id, timeout)
        try:
            run_execution_now(execution_id, epoch, self.using, _start_at(start_in))
        finally:
            self._untrack(execution_id)


class ThreadPoolExecutor(Executor):
    """A bounded pool of threads (``max_workers``, default 10), started on demand.

    A thread cannot be killed: a run past its timeout is marked failed and left to end.
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

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        if self._closed:
            raise RuntimeError(f"executor {self.name!r} is shut down")
        self._track(execution_id, timeout)
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
                    run_execution_now(execution_id, epoch, self.using, start_at)
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


class ProcessPoolExecutor(Executor):
    """A pool of processes started with ``spawn`` (never fork: a forked child would share the
    parent's database connections); each worker runs ``django.setup()`` and autodiscovers jobs.
    """

    def __init__(self, name: str, options: dict[str, Any], *, using: str) -> None:
        super().__init__(name, options, using=using)
        self.max_workers = int(options.get("max_workers", os.cpu_count() or 2))
        self._pool: _StdProcessPool | None = None

    def _get_pool(self) -> _StdProcessPool:
        if self._pool is None:
            self._pool = _StdProcessPool(
                max_workers=self.max_workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_spawn.init_worker,
            )
        return self._pool

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        # A process does not share our monotonic clock: it starts as soon as it can.
        self._track(execution_id, timeout)
        future = self._get_pool().submit(_spawn.run, execution_id, epoch, self.using)

        def done(f: Future[str]) -> None:
            self._untrack(execution_id)
            if f.exception() is not None:
                logger.error("execution %d failed in its process: %r", execution_id, f.exception())

        future.add_done_callback(done)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class TasksExecutor(Executor):
    """Hand each execution to Django's tasks framework (``django.tasks`` on Django 6, the
    ``django-tasks`` backport on 5.2) as ``run_execution(execution_id)``.

    OPTIONS: ``backend`` (a ``TASKS`` alias, default ``"default"``) and ``queue_name``. The
    enqueue happens after the claim commits; an execution left pending by a scheduler that
    died is enqueued again by the next leader (at-least-once delivery), and the worker's CAS
    keeps the run single. Runs are tracked by their own heartbeat, not by this process.
    """

    def __init__(self, name: str, options: dict[str, Any], *, using: str) -> None:
        super().__init__(name, options, using=using)
        self.backend = str(options.get("backend", "default"))
        self.queue_name = options.get("queue_name")

    @cached_property
    def enqueues_in_transaction(self) -> bool:
        """True for django-tasks-db writing to our database: it enqueues inside the claim."""
        from django_schedules import tasks

        return tasks.backend_writes_to(self.backend, self.using)

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        from django_schedules import tasks

        run_after = datetime.now(UTC) + timedelta(seconds=start_in) if start_in > 0 else None
        tasks.enqueue(
            execution_id, backend=self.backend, queue_name=self.queue_name, run_after=run_after
        )


BACKENDS: dict[str, str] = {
    "inline": "django_schedules.executors.InlineExecutor",
    "threadpool": "django_schedules.executors.ThreadPoolExecutor",
    "processpool": "django_schedules.executors.ProcessPoolExecutor",
    "tasks": "django_schedules.executors.TasksExecutor",
}


def build_executors(
    config: dict[str, dict[str, Any]] | None = None, *, using: str | None = None
) -> dict[str, Executor]:
    """Build executors from ``SCHEDULES_EXECUTORS`` (or `config`): a name -> executor dict."""
    config = conf.SCHEDULES_EXECUTORS if config is None else config
    using = using or conf.SCHEDULES_DATABASE
    built: dict[str, Executor] = {}
    for name, entry in config.items():
        backend = str(entry.get("BACKEND", "threadpool"))
        cls = import_string(BACKENDS.get(backend, backend))
        if not (isinstance(cls, type) and issubclass(cls, Executor)):
            raise TypeError(
                f"SCHEDULES_EXECUTORS[{name!r}]['BACKEND'] must name an Executor subclass, "
                f"got {backend!r}"
            )
        built[name] = cls(name, dict(entry.get("OPTIONS", {})), using=using)
    return built
