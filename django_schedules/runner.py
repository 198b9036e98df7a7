"""The worker side of a run, whatever executor dispatched it: claim the row by CAS
``pending -> running`` (so a duplicate delivery never runs a job twice), run the registered
callable (sync, or async on a loop) with its retries, stop it at its timeout where it can be
stopped, finish the row (status, duration, capped result, traceback, worker identity) and send
the signals. Only registered callables ever run; a row naming anything else is refused.

The in-process executors, the process pool's child (``_spawn``) and the django.tasks entry
point (``tasks``) all call :func:`run_execution_now`. This module is also the one authority on
timeouts (:func:`time_out`): whoever notices a run past its timeout (the run's own alarm or
watchdog, the scheduler's upkeep, the tasks leader's backstop) goes through it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import os
import signal
import socket
import threading
import time
import traceback as tb
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import DatabaseError, connections

from django_schedules import planner, signals, store, tracing
from django_schedules.conf import conf
from django_schedules.exceptions import JobNotRegistered
from django_schedules.models import Execution, ExecutionStatus, Schedule
from django_schedules.plans import BUFFERING
from django_schedules.registry import JobContext, get_registered

if TYPE_CHECKING:
    from django_schedules.groupcommit import GroupCommit

# The executors' logger name, which operators may have configured (docs/operations.md).
logger = logging.getLogger("django_schedules.executors")

_T = TypeVar("_T")


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def send_signals(using: str, execution_id: int, *names: str) -> None:
    """Send django_schedules.signals `names` with the Execution row as it is now (loaded only
    when a receiver is connected); a receiver's error is logged, never raised."""
    wanted = [getattr(signals, n) for n in names]
    if not any(s.has_listeners(Execution) for s in wanted):
        return
    execution = store.get_execution(execution_id, using)
    if execution is None:
        return
    for sent, name in zip(wanted, names, strict=True):
        for receiver, response in sent.send_robust(sender=Execution, execution=execution):
            if isinstance(response, Exception):
                logger.error("receiver %r of %s raised %r", receiver, name, response)


def announce_failed(execution_ids: list[int], using: str) -> None:
    """Send the signals of runs that ended badly without finishing themselves (timed out,
    lost)."""
    for execution_id in execution_ids:
        send_signals(using, execution_id, "execution_finished", "execution_failed")
        count_outcome(execution_id, True, using)  # a query only when its schedule counts


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
    trace: dict[str, str] | None = None,
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
    ``trace``: the claim's trace context, sent with the run from another process.
    """
    using = using or conf.SCHEDULES_DATABASE
    worker = worker_identity()
    write = commit.write if commit is not None else _now
    started_at = planned_start(start_at)
    spec = write(partial(store.start_execution, execution_id, epoch, worker, started_at, using))
    if spec is None:
        logger.debug("execution %d is not ours to start", execution_id)
        return ""
    return run_started(
        spec, using, start_at, write=write, stop_at_timeout=stop_at_timeout, loop=loop, trace=trace
    )


def planned_start(start_at: float | None) -> datetime:
    """The wall-clock instant a run due at the monotonic `start_at` (now when None or past)
    starts at: what its row records as ``started_at``."""
    wait = 0.0 if start_at is None else max(start_at - time.monotonic(), 0.0)
    return datetime.now(UTC) + timedelta(seconds=wait)


def run_started(
    spec: store.RunSpec,
    using: str,
    start_at: float | None = None,
    *,
    write: Callable[[Callable[[], Any]], Any] | None = None,
    record: Callable[[store.Finish], None] | None = None,
    stop_at_timeout: bool = False,
    loop: asyncio.AbstractEventLoop | None = None,
    trace: dict[str, str] | None = None,
) -> str:
    """Run an execution whose start this worker won (its row is ``running`` under us): wait
    for `start_at`, call the job (retried as the schedule says), and record how it ended.

    ``write``: where the row's writes go (default: at once, in this thread). ``record``: a
    finisher that writes the end later, with other runs' (the thread pool's), and sends the
    signals then; without one the end is written here and the signals sent. ``trace``: the
    claim's trace context, sent with a run to another process (:mod:`tracing`).
    """
    if start_at is not None and (left := start_at - time.monotonic()) > 0:
        time.sleep(left)
    with tracing.run_span(spec, spec.job_id, trace) as span:
        status = _run(spec, using, write or _now, record, stop_at_timeout, loop)
        tracing.ended(span, status)
        return status


def _run(
    spec: store.RunSpec,
    using: str,
    write: Callable[[Callable[[], Any]], Any],
    record: Callable[[store.Finish], None] | None,
    stop_at_timeout: bool,
    loop: asyncio.AbstractEventLoop | None,
) -> str:
    execution_id = spec.execution_id
    send_signals(using, execution_id, "execution_started")
    started = time.monotonic()

    def finish(
        status: str, attempt: int, *, result: str = "", reason: str = "", traceback: str = ""
    ) -> bool:
        end = store.Finish(
            execution_id,
            attempt,
            status,
            finished_at=datetime.now(UTC),
            duration=timedelta(seconds=time.monotonic() - started),
            result=result,
            reason=reason,
            traceback=traceback,
            pause_after_failures=spec.pause_after_failures,
            overlap=spec.overlap,
        )
        if record is not None:
            record(end)
            return True
        done = write(partial(store.finish_executions, [end], using))
        if execution_id in done:
            finished(end, using)
            return True
        return False

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
                dropped(execution_id)
                return ""
            return ExecutionStatus.SUCCEEDED


def finished(end: store.Finish, using: str) -> None:
    """Send the signals of a run whose end was recorded; count it in its schedule's failures
    in a row when the schedule has ``pause_after_failures``."""
    failed = end.status == ExecutionStatus.FAILED
    names = ("execution_finished", "execution_failed") if failed else ("execution_finished",)
    send_signals(using, end.execution_id, *names)
    if end.pause_after_failures is not None:
        count_outcome(end.execution_id, failed, using)
    if end.overlap in BUFFERING:  # the next buffered run of its schedule may start now
        try:
            store.release_buffered(end.execution_id, datetime.now(UTC), using)
        except DatabaseError as exc:  # the leader's upkeep releases it (release_stranded)
            logger.warning("could not release the run buffered after %d: %s", end.execution_id, exc)


def count_outcome(execution_id: int, failed: bool, using: str) -> None:
    """Count a run's end in its schedule's failures in a row (``store.record_outcome``, the
    planner's ``failure_streak`` deciding); when that pauses the schedule, log it and send
    ``schedule_changed`` with the action ``"paused_after_failures"``. Never raises: the run's
    own end is recorded already."""
    try:
        job_id = store.record_outcome(execution_id, failed, planner.failure_streak, using)
    except DatabaseError as exc:
        logger.warning("could not count execution %d's end in its schedule: %s", execution_id, exc)
        return
    if job_id is None:
        return
    logger.warning("%s paused: too many failed runs in a row", job_id)
    schedule = store.find_schedule(job_id, using)
    if schedule is not None:
        for receiver, response in signals.schedule_changed.send_robust(
            sender=Schedule, schedule=schedule, job_id=job_id, action="paused_after_failures"
        ):
            if isinstance(response, Exception):
                logger.error("receiver %r of schedule_changed raised %r", receiver, response)


def dropped(execution_id: int) -> None:
    logger.warning(
        "execution %d finished after it was marked timed out or lost; result dropped",
        execution_id,
    )


def _now(write: Callable[[], _T]) -> _T:
    return write()


# Coroutines of async jobs running on another thread's event loop, by execution id: a thread
# cannot be stopped, but a coroutine can be cancelled at its timeout (cancel_on_loop).
_ON_LOOP: dict[int, concurrent.futures.Future[Any]] = {}
_ON_LOOP_LOCK = threading.Lock()


def cancel_on_loop(execution_id: int) -> bool:
    """Cancel the async job of `execution_id` running on another thread's event loop (it gets
    CancelledError at its current await); False when it does not run on one."""
    with _ON_LOOP_LOCK:
        future = _ON_LOOP.get(execution_id)
    return future is not None and future.cancel()


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


# Timeouts: the one authority. When a run is overdue depends on who watches it: its own alarm
# or watchdog (_TimeLimit: a tasks worker, with stop_at_timeout), the scheduler's upkeep (the
# runs of its in-process executors and process pool: Deadlines), or the tasks leader's
# backstop (time_out_overdue: a worker that did not stop its run). Each then calls time_out,
# which says what happens to the row and to the run.


class Deadlines:
    """The runs handed to one in-process executor (or its process pool) and not seen to end,
    each overdue `timeout` seconds after its start time, by this process's monotonic
    clock. Thread-safe: the executor's workers add and discard, the upkeep looks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # id -> (monotonic deadline, timeout) when the run has a timeout
        self._runs: dict[int, tuple[float, float] | None] = {}

    def add(self, execution_id: int, timeout: float | None, start_in: float = 0.0) -> None:
        """Track a run that starts `start_in` seconds from now: its timeout counts from
        then, not from the hand-over (a run claimed ahead waits for its time first)."""
        start = time.monotonic() + max(start_in, 0.0)
        deadline = None if timeout is None else (start + timeout, timeout)
        with self._lock:
            self._runs[execution_id] = deadline

    def discard(self, execution_id: int) -> None:
        with self._lock:
            self._runs.pop(execution_id, None)

    def ids(self) -> list[int]:
        with self._lock:
            return list(self._runs)

    def earliest(self) -> float | None:
        with self._lock:
            deadlines = [d[0] for d in self._runs.values() if d is not None]
        return min(deadlines) if deadlines else None

    def overdue(self) -> list[tuple[int, float]]:
        """(id, timeout) of the runs past their deadline, each reported once."""
        now = time.monotonic()
        with self._lock:
            late = [(i, d[1]) for i, d in self._runs.items() if d is not None and now >= d[0]]
            for i, _ in late:
                self._runs[i] = None
            return late


class _TimedOut(BaseException):
    """Raised inside a job by its timeout alarm. A BaseException, so that a job's own
    ``except Exception`` does not swallow it."""


class _TimeLimit:
    """A run's timeout, watched from the thread that runs it (the tasks executor's worker).

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
        time_out(self.execution_id, self.timeout, self.using, stop=_already_stopped)
        return ExecutionStatus.FAILED

    def _watch(self) -> None:
        assert self.timeout is not None  # noqa: S101 - started only with a timeout
        try:
            if self._done.wait(self.timeout):
                return
            time_out(
                self.execution_id,
                self.timeout,
                self.using,
                unstopped="it runs in a thread that cannot be stopped: it runs on and its late "
                "result is dropped",
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


def time_out(
    execution_id: int,
    timeout: float,
    using: str,
    *,
    stop: Callable[[], bool] | None = None,
    unstopped: str = "",
    now: datetime | None = None,
) -> bool:
    """Mark a running execution failed for running past its `timeout` (seconds), then stop it
    with `stop` where it can be stopped (False: it cannot, `unstopped` says why); log it and
    send its signals. Return False when the row was not running any more (it ended meanwhile,
    or was marked lost); the run is still stopped then, as it is past its time anyway.

    A run that cannot be stopped runs on; its late finish finds the row no longer running and
    its result is dropped.
    """
    marked = store.time_out(execution_id, timeout, now or datetime.now(UTC), using)
    stopped = stop is not None and stop()
    if marked:
        fate = "stopped and marked failed" if stopped else f"marked failed ({unstopped})"
        _timed_out(execution_id, timeout, using, fate)
    return marked


def time_out_overdue(executor: str, using: str) -> None:
    """The tasks leader's backstop: mark failed the runs of `executor` still running one
    SCHEDULES_LEASE_TTL past ``started_at + timeout``, which their worker (another process:
    nothing here can stop it) should have stopped. The margin absorbs the skew between the
    worker's clock, which wrote ``started_at``, and ours."""
    grace = timedelta(seconds=conf.SCHEDULES_LEASE_TTL)
    for execution_id, timeout in store.time_out_overdue(executor, grace, datetime.now(UTC), using):
        _timed_out(
            execution_id,
            timeout,
            using,
            f"marked failed {grace.total_seconds():g}s later by the leader of executor "
            f"{executor!r} (its worker did not stop it: frozen, or gone)",
        )


def _timed_out(execution_id: int, timeout: float, using: str, fate: str) -> None:
    logger.warning("execution %d ran past its timeout of %gs; %s", execution_id, timeout, fate)
    announce_failed([execution_id], using)


def _already_stopped() -> bool:
    return True  # the run's own alarm stopped it
