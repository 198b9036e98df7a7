"""Where a claimed execution runs: a thread pool (default), a process pool, inline, or
Django's tasks framework.

Every executor ends up in :func:`run_execution_now`, which claims the row by CAS
``pending -> running`` (so a duplicate delivery never runs a job twice), runs the registered
callable with its retries, and finishes the row: status, duration, capped result, traceback,
worker identity. Only registered callables ever run; a row naming anything else is refused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
import traceback as tb
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from types import FrameType
from typing import Any, TypeVar

from django.db import InterfaceError, OperationalError, connections, transaction
from django.utils.functional import cached_property
from django.utils.module_loading import import_string

from django_schedules import _spawn, store
from django_schedules.conf import conf
from django_schedules.exceptions import JobNotRegistered
from django_schedules.models import ExecutionStatus

logger = logging.getLogger("django_schedules.executors")

_T = TypeVar("_T")


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
    for sent, name in zip(wanted, names, strict=True):
        for receiver, response in sent.send_robust(sender=Execution, execution=execution):
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
    *,
    stop_at_timeout: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
    commit: GroupCommit | None = None,
) -> str:
    """Run one execution to its end in this thread; return its final status ("" if another
    worker or a newer lease holder has it, or it was finished elsewhere meanwhile).

    ``epoch``: an in-process executor passes the epoch it was dispatched under, so a row that a
    newer lease holder adopted is not started by the old one. ``start_at``: a
    ``time.monotonic()`` instant; the row is claimed first and the job starts then, so the
    claim's round trips do not make it late. ``stop_at_timeout``: enforce the schedule's
    timeout here (a tasks worker: no scheduler watches it); see :class:`_TimeLimit`.
    ``loop``: a running event loop of another thread on which an ``async def`` job runs (the
    AsyncIOScheduler's); without one it runs on a private loop in this thread. ``commit``:
    where the row's writes go (a thread pool on SQLite shares one between its threads).
    """
    from django_schedules.registry import JobContext, get_registered

    using = using or conf.SCHEDULES_DATABASE
    worker = worker_identity()
    wait = 0.0 if start_at is None else max(start_at - time.monotonic(), 0.0)
    started_at = datetime.now(UTC) + timedelta(seconds=wait)
    write = commit.write if commit is not None else _now
    spec = write(partial(store.start_execution, execution_id, epoch, worker, started_at, using))
    if spec is None:
        logger.debug("execution %d is not ours to start", execution_id)
        return ""
    if start_at is not None and (left := start_at - time.monotonic()) > 0:
        time.sleep(left)
    send_signals(using, execution_id, "execution_started")
    started = time.monotonic()

    def finish(status: str, attempt: int, **outcome: str) -> bool:
        finished_at = datetime.now(UTC)
        duration = timedelta(seconds=time.monotonic() - started)
        done = write(
            lambda: store.finish_execution(
                execution_id,
                attempt,
                status,
                finished_at=finished_at,
                duration=duration,
                using=using,
                **outcome,
            )
        )
        if done:
            failed = ("execution_failed",) if status == ExecutionStatus.FAILED else ()
            send_signals(using, execution_id, "execution_finished", *failed)
        return done

    try:
        entry = get_registered(spec.func)
    except JobNotRegistered as exc:
        reason = f"callable not registered: {spec.func!r}"
        finish(ExecutionStatus.FAILED, spec.attempt, reason=reason, traceback=str(exc))
        return ExecutionStatus.FAILED
    attempt = spec.attempt
    limit = _TimeLimit(spec.timeout if stop_at_timeout else None, execution_id, using)
    with limit:
        while True:
            context = JobContext(
                fire_time=spec.fire_time, execution_id=execution_id, attempt=attempt
            )
            try:
                with limit.armed():
                    value = _resolve(
                        entry.call(spec.args, spec.kwargs, context), loop, execution_id
                    )
            except _TimedOut:
                return limit.stopped()
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
                    try:
                        with limit.armed():
                            time.sleep(delay)
                    except _TimedOut:
                        return limit.stopped()
                    if not write(partial(store.next_attempt, execution_id, attempt, using)):
                        return ""  # Finished elsewhere meanwhile (timed out, lost).
                    attempt += 1
                    continue
                finish(
                    ExecutionStatus.FAILED,
                    attempt,
                    reason=cap(f"{type(exc).__name__}: {exc}", 500),
                    traceback=cap(trace, 20_000),
                )
                return ExecutionStatus.FAILED
            result = "" if value is None else cap(repr(value))
            if not finish(ExecutionStatus.SUCCEEDED, attempt, result=result):
                logger.warning(
                    "execution %d finished after it was marked timed out or lost; result dropped",
                    execution_id,
                )
                return ""
            return ExecutionStatus.SUCCEEDED


def _now(write: Callable[[], _T]) -> _T:
    return write()


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


class _TimedOut(BaseException):
    """Raised inside a job by its timeout alarm. A BaseException, so that a job's own
    ``except Exception`` does not swallow it."""


class _TimeLimit:
    """A run's timeout, enforced in the thread that runs it (the tasks executor's worker).

    Where the thread can be interrupted (the main thread of a POSIX process, with SIGALRM
    free: a ``db_worker``, the immediate backend called from the main thread), a
    ``setitimer`` alarm raises :class:`_TimedOut` inside the job while it is armed: the job
    stops there, ``finally`` blocks and ``atomic`` rollbacks run, and the row is marked failed.
    The alarm is disarmed around our own database writes, so it never lands in the middle of
    one. Elsewhere a thread cannot be stopped: a watchdog thread marks the row failed at the
    deadline and logs a warning, the job runs on, and its late result is dropped (the row is
    no longer ``running``).
    """

    def __init__(self, timeout: float | None, execution_id: int, using: str) -> None:
        self.timeout = timeout
        self.execution_id = execution_id
        self.using = using
        self.deadline = time.monotonic() + timeout if timeout is not None else None
        self.alarm = timeout is not None and _alarm_is_free()
        self._armed = False
        self._previous: Any = None
        self._done = threading.Event()
        self._watchdog: threading.Thread | None = None

    def __enter__(self) -> _TimeLimit:
        if self.alarm:
            self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
        elif self.timeout is not None:
            self._watchdog = threading.Thread(
                target=self._watch, name=f"schedules-timeout-{self.execution_id}", daemon=True
            )
            self._watchdog.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.alarm:
            self._disarm()
            signal.signal(signal.SIGALRM, self._previous)
        if self._watchdog is not None:
            self._done.set()
            self._watchdog.join()

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """Let the alarm interrupt the code inside (the job, a retry's sleep)."""
        if not self.alarm:
            yield
            return
        assert self.deadline is not None  # noqa: S101 - alarm implies a timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _TimedOut
        self._armed = True
        signal.setitimer(signal.ITIMER_REAL, left)
        try:
            yield
        finally:
            self._disarm()

    def _disarm(self) -> None:
        # The flag first: a signal already delivered but not yet handled is then ignored.
        self._armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self._armed:
            self._armed = False
            raise _TimedOut

    def stopped(self) -> str:
        """Record a run the alarm stopped; return its status."""
        assert self.timeout is not None  # noqa: S101 - only an armed limit stops a run
        if store.time_out(self.execution_id, self.timeout, datetime.now(UTC), self.using):
            logger.warning(
                "execution %d ran past its timeout of %gs; stopped and marked failed",
                self.execution_id,
                self.timeout,
            )
            send_signals(self.using, self.execution_id, "execution_finished", "execution_failed")
        return ExecutionStatus.FAILED

    def _watch(self) -> None:
        assert self.timeout is not None  # noqa: S101 - started only with a timeout
        try:
            if self._done.wait(self.timeout):
                return
            if store.time_out(self.execution_id, self.timeout, datetime.now(UTC), self.using):
                logger.warning(
                    "execution %d ran past its timeout of %gs; marked failed (it runs in a "
                    "thread that cannot be stopped: it runs on and its late result is dropped)",
                    self.execution_id,
                    self.timeout,
                )
                send_signals(
                    self.using, self.execution_id, "execution_finished", "execution_failed"
                )
        except Exception:
            logger.exception("could not time out execution %d", self.execution_id)
        finally:
            connections.close_all()


def _alarm_is_free() -> bool:
    """True in the main thread of a POSIX process whose SIGALRM nobody else uses."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        return False
    return signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None) and signal.getitimer(
        signal.ITIMER_REAL
    ) == (0.0, 0.0)


# Coroutines of async jobs running on another thread's event loop, by execution id: a thread
# cannot be stopped, but a coroutine can be cancelled at its timeout (Executor.stop_run).
_ON_LOOP: dict[int, concurrent.futures.Future[Any]] = {}
_ON_LOOP_LOCK = threading.Lock()


def _resolve(value: Any, loop: asyncio.AbstractEventLoop | None, execution_id: int) -> Any:
    """The job's result: an awaitable is run on `loop` when it is running in another thread,
    else to completion on a private loop in this thread."""
    if not inspect.isawaitable(value):
        return value
    if loop is None or not loop.is_running() or _running_loop() is loop:
        return asyncio.run(_await(value))
    future = asyncio.run_coroutine_threadsafe(_await(value), loop)
    with _ON_LOOP_LOCK:
        _ON_LOOP[execution_id] = future
    try:
        return future.result()
    finally:
        with _ON_LOOP_LOCK:
            _ON_LOOP.pop(execution_id, None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


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
        # The AsyncIOScheduler's event loop: async jobs run there (use_event_loop).
        self.loop: asyncio.AbstractEventLoop | None = None

    def use_event_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run ``async def`` jobs on `loop` (running in another thread) rather than on a
        private loop in the worker thread. In-process executors honour it; a process pool or a
        tasks worker runs elsewhere and cannot."""
        self.loop = loop

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

    def next_deadline(self) -> float | None:
        """The earliest monotonic timeout deadline of our runs (None when none has one)."""
        with self._lock:
            deadlines = [d[0] for d in self._submitted.values() if d is not None]
        return min(deadlines) if deadlines else None

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

    def stop_run(self, execution_id: int) -> bool:
        """Stop a run past its timeout for real; False when this executor cannot.

        An async job on the event loop is cancelled (CancelledError at its current await); a
        thread cannot be stopped."""
        with _ON_LOOP_LOCK:
            future = _ON_LOOP.get(execution_id)
        return future is not None and future.cancel()

    def sweep(self, epoch: int) -> None:  # noqa: B027 - optional hook
        """Called by the leader every third of the lease TTL (re-deliver what got lost)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release threads and processes."""


class InlineExecutor(Executor):
    """Run each execution in the caller's thread: for tests and ``--once``."""

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        self._track(execution_id, timeout)
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
        self._waiting: deque[tuple[int, int | None]] = deque()
        self._workers: list[_Worker] = []
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._manager: threading.Thread | None = None
        self._closed = False
        self._spawned = 0

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        # A process does not share our monotonic clock: it starts as soon as it can.
        if self._closed:
            raise RuntimeError(f"executor {self.name!r} is shut down")
        self._track(execution_id, timeout)
        with self._lock:
            self._waiting.append((execution_id, epoch))
            if self._manager is None:
                self._manager = threading.Thread(
                    target=self._manage, name=f"schedules-{self.name}-pool", daemon=True
                )
                self._manager.start()
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
            while self._waiting:
                worker = next((w for w in self._workers if w.execution_id is None), None)
                if worker is None:
                    if len(self._workers) >= self.max_workers:
                        return
                    self._spawned += 1
                    worker = _Worker(self._ctx, f"schedules-{self.name}-{self._spawned}")
                    self._workers.append(worker)
                execution_id, epoch = self._waiting.popleft()
                try:
                    worker.conn.send((execution_id, epoch, self.using))
                except OSError:  # it died idle: replace it and try again
                    self._waiting.appendleft((execution_id, epoch))
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


class TasksExecutor(Executor):
    """Hand each execution to Django's tasks framework (``django.tasks`` on Django 6, the
    ``django-tasks`` backport on 5.2) as ``run_execution(execution_id)``.

    OPTIONS: ``backend`` (a ``TASKS`` alias, default ``"default"``) and ``queue_name``. The
    enqueue happens after the claim commits; an execution left pending by a scheduler that
    died is enqueued again by the next leader (at-least-once delivery), and the worker's CAS
    keeps the run single. Runs are tracked by their own heartbeat, not by this process.

    The sweeper: an execution still ``pending`` ``redeliver_after`` seconds (default 60)
    after its start time, while this leader still holds the lease, is enqueued again, up to
    ``max_redeliveries`` times (default 3); then it is left pending with a warning.

    Timeouts: the worker enforces the schedule's ``timeout`` itself (``run_execution`` runs
    with ``stop_at_timeout``). As a backstop for a worker that cannot (frozen, or gone before
    writing it), the leader marks failed a run still ``running`` one lease TTL past
    ``started_at + timeout``: the margin absorbs the skew between the worker's clock, which
    wrote ``started_at``, and the leader's.
    """

    def __init__(self, name: str, options: dict[str, Any], *, using: str) -> None:
        super().__init__(name, options, using=using)
        self.backend = str(options.get("backend", "default"))
        self.queue_name = options.get("queue_name")
        self.redeliver_after = float(options.get("redeliver_after", 60.0))
        self.max_redeliveries = int(options.get("max_redeliveries", 3))
        # id -> (monotonic time to look again, deliveries so far)
        self._enqueued: dict[int, tuple[float, int]] = {}

    def _remember(self, execution_id: int, start_in: float, deliveries: int) -> None:
        due = time.monotonic() + max(start_in, 0.0) + self.redeliver_after
        with self._lock:
            self._enqueued[execution_id] = (due, deliveries)

    def sweep(self, epoch: int) -> None:
        self._time_out_overdue()
        now = time.monotonic()
        with self._lock:
            due = {i: n for i, (at, n) in self._enqueued.items() if at <= now}
        if not due:
            return
        stuck = set(store.still_pending(list(due), epoch, self.using))
        with self._lock:
            for execution_id in due:
                self._enqueued.pop(execution_id, None)  # started, finished, or adopted
        for execution_id in sorted(stuck):
            deliveries = due[execution_id]
            if deliveries > self.max_redeliveries:
                logger.warning(
                    "execution %d is still pending after %d enqueues on %r; leaving it pending "
                    "(is a tasks worker running?)",
                    execution_id,
                    deliveries,
                    self.backend,
                )
                continue
            logger.warning(
                "execution %d still pending %gs after its enqueue on %r; enqueuing it again",
                execution_id,
                self.redeliver_after,
                self.backend,
            )
            try:
                self._enqueue(execution_id, 0.0)
            except Exception:
                logger.exception("could not enqueue execution %d again", execution_id)
            self._remember(execution_id, 0.0, deliveries + 1)

    def _time_out_overdue(self) -> None:
        grace = timedelta(seconds=conf.SCHEDULES_LEASE_TTL)
        for execution_id, timeout in store.time_out_overdue(
            self.name, grace, datetime.now(UTC), self.using
        ):
            logger.warning(
                "execution %d on %r still running %gs past its timeout of %gs; marked failed "
                "(its worker did not stop it: frozen, or gone)",
                execution_id,
                self.backend,
                grace.total_seconds(),
                timeout,
            )
            send_signals(self.using, execution_id, "execution_finished", "execution_failed")

    @cached_property
    def enqueues_in_transaction(self) -> bool:
        """True for django-tasks-db writing to our database: it enqueues inside the claim."""
        from django_schedules import tasks

        return tasks.backend_writes_to(self.backend, self.using)

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        self._enqueue(execution_id, start_in)
        self._remember(execution_id, start_in, 1)

    def _enqueue(self, execution_id: int, start_in: float) -> None:
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
