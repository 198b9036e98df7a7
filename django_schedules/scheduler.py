"""The scheduler loop: hold the lease, claim due occurrences, hand them to executors, sleep.

``Scheduler.tick()`` is one pass (tests drive it with a manual clock); ``run()`` loops until
``stop()``; ``BackgroundScheduler`` runs the loop in a daemon thread and ``AsyncIOScheduler``
beside an asyncio event loop. Its parts: what a due schedule does now is ``planner``'s, the
executions waiting for their instant are ``timers``', and the sleep between passes is
``wakers``'.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connections, transaction

from django_schedules import __version__, store
from django_schedules.clock import Clock, SystemClock
from django_schedules.conf import conf
from django_schedules.executors import Executor, build_executors
from django_schedules.lease import Lease
from django_schedules.models import ProcessRole
from django_schedules.planner import plan_schedule
from django_schedules.plans import DueSchedule, SchedulePlan
from django_schedules.store import Claimed
from django_schedules.timers import Timers
from django_schedules.wakers import _make_waker, _Waker

logger = logging.getLogger("django_schedules.scheduler")

# Pruning old executions (SCHEDULES_KEEP_EXECUTIONS): how often the leader looks, and how
# much it deletes per look, in batches of short transactions.
PRUNE_EVERY = 300.0
PRUNE_BATCH = 1000
PRUNE_BATCHES = 10


class Scheduler:
    """The loop for one scheduler group. Thread-compatible: drive it from one thread.

    ``clock``: where the time comes from (tests pass a ``ManualClock``). ``executors``: a
    name -> Executor dict; built from ``SCHEDULES_EXECUTORS`` when omitted. ``lookahead``:
    seconds ahead of an occurrence it is claimed, to start it on the instant.
    """

    def __init__(
        self,
        *,
        group: str = "default",
        clock: Clock | None = None,
        poll_interval: float | None = None,
        lease_ttl: float | None = None,
        using: str | None = None,
        executors: dict[str, Executor] | None = None,
        batch_size: int = 500,
        lookahead: float = 0.1,
        owner: str | None = None,
        shutdown_grace: float | None = None,
    ) -> None:
        self.group = group
        self.clock: Clock = clock or SystemClock()
        self.poll_interval = float(poll_interval or conf.SCHEDULES_POLL_INTERVAL)
        self.lease_ttl = float(lease_ttl or conf.SCHEDULES_LEASE_TTL)
        self.using = using or conf.SCHEDULES_DATABASE
        self.batch_size = batch_size
        self.lookahead = lookahead
        self.shutdown_grace = float(
            conf.SCHEDULES_SHUTDOWN_GRACE if shutdown_grace is None else shutdown_grace
        )
        self.lease = Lease(
            group, ttl=self.lease_ttl, clock=self.clock, using=self.using, owner=owner
        )
        self._executors = executors
        self._stop = threading.Event()
        self._timers = Timers()
        self._housekeeping_at = 0.0
        self._lost_check_at = 0.0
        self._prune_at = 0.0
        self._waker: _Waker | None = None
        self._unsure = False  # a pass failed: it may have left pending rows nobody dispatches
        # What the process heartbeat reports (SchedulerProcess; docs/operations.md).
        self._started_at = self.clock.now()
        self._last_tick_at: datetime | None = None
        self._earliest: datetime | None = None  # the last probe's earliest next run
        self._fired: deque[float] = deque()  # monotonic start times of the last minute
        self._reported_role = ""
        self._expire_at = 0.0

    # Parts.

    @property
    def executors(self) -> dict[str, Executor]:
        if self._executors is None:
            self._executors = build_executors(using=self.using)
        return self._executors

    @property
    def owner(self) -> str:
        return self.lease.owner

    # One pass.

    def tick(self) -> float:
        """Do one pass; return how many seconds the loop may sleep before the next one."""
        now = self.clock.now()
        self._last_tick_at = now
        if not self._lead_or_stand_by():
            return self.poll_interval
        self._housekeeping()
        epoch = self.lease.epoch
        if epoch is None:  # lost while marking lost executions: nothing to do
            return self.poll_interval
        seen = self._probe(epoch)
        if seen is None:
            return 0.0  # the lease is gone: try to take it afresh at once
        horizon = now + timedelta(seconds=self.lookahead)
        if seen.earliest is not None and seen.earliest <= horizon:
            self._claim(now, horizon, epoch)
            wait = 0.0  # Look again at once: the next probe finds the new earliest run.
        else:
            wait = self._sleep_for(seen.earliest, horizon)
        self._release_timers()
        return wait

    def _lead_or_stand_by(self) -> bool:
        """Take the lease, or renew it when upkeep is due; False when this pass stands by."""
        if not self.lease.held:
            if not self.lease.acquire():
                self._housekeeping()  # a standby still heartbeats its own runs
                return False
            self._lost_check_at = 0.0
            self._adopt()  # pending rows of the previous holder, and manual runs
        elif self._upkeep_due():
            if not self.lease.renew():
                self._drop_timers()
                return False
            self._housekeeping_at = 0.0  # the heartbeats in the same wake-up as the renewal
        return True

    def _probe(self, epoch: int) -> store.Probe | None:
        """The earliest next run, in the one query that also checks the lease; None when the
        lease is gone (expired while we were paused, or taken)."""
        seen = store.probe(self.group, self.owner, epoch, self.using)
        self._earliest = seen.earliest
        if not seen.holds_lease:
            self.lease.lost()
            self._drop_timers()
            return None
        if seen.manual_pending or self._unsure:
            self._adopt()
        return seen

    def _sleep_for(self, earliest: datetime | None, horizon: datetime) -> float:
        """How long the loop may sleep when nothing is due within the horizon."""
        wait = self.poll_interval
        if self._waker is not None and self._waker.notifies:
            # A change to the schedules wakes us (LISTEN): sleep until the next firing or the
            # next upkeep (lease renewal, heartbeats), not every poll interval.
            wait = self._until_upkeep()
        if earliest is not None:
            wait = min(wait, max((earliest - horizon).total_seconds(), 0.0))
        return wait

    def _upkeep_due(self) -> bool:
        """Renew the lease when it is due, and early when the heartbeats are: renewal and
        heartbeats share one wake-up, so a listening loop wakes once per third of the TTL."""
        return self.lease.renewal_due or self.clock.monotonic() >= self._housekeeping_at

    def _until_upkeep(self) -> float:
        """Seconds until the next lease renewal, heartbeat, or an executor's run timeout."""
        mono = self.clock.monotonic()
        at = min(self._housekeeping_at, self.lease.renew_at)
        wait = max(at - mono, 0.0)
        for executor in self.executors.values():
            deadline = executor.next_deadline()
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0.0))
        return max(wait, self.poll_interval)

    def _claim(self, now: datetime, horizon: datetime, epoch: int) -> None:
        max_catch_up = int(conf.SCHEDULES_MAX_CATCH_UP)

        def planner(schedule: DueSchedule, live: int) -> SchedulePlan:
            return plan_schedule(
                schedule, live, now=now, horizon=horizon, max_catch_up=max_catch_up
            )

        while True:
            result = store.claim_due(
                self.group,
                self.owner,
                epoch,
                horizon=horizon,
                batch=self.batch_size,
                planner=planner,
                now=now,
                using=self.using,
                in_transaction=self._enqueue_in_transaction,
            )
            if result.fenced_out:
                self.lease.lost()
                self._drop_timers()
                return
            for schedule_id, error in result.errors:
                logger.error("schedule %d: %s", schedule_id, error)
            for claimed in result.claimed:
                self._schedule_start(claimed, epoch)
            if not result.more:
                return

    def _enqueue_in_transaction(self, claimed: list[Claimed]) -> list[Claimed]:
        """Hand executions to executors whose queue lives in our database (django-tasks-db)
        inside the claim transaction: the claim and the enqueue commit or roll back together.
        Return the others, to start after commit."""
        later: list[Claimed] = []
        epoch = self.lease.epoch
        for item in claimed:
            executor = self.executors.get(item.executor or "default")
            if executor is not None and executor.enqueues_in_transaction:
                start_in = (item.run_at - self.clock.now()).total_seconds()
                try:
                    with transaction.atomic(using=self.using):  # a savepoint
                        executor.submit(item.execution_id, epoch, item.timeout, start_in)
                    self._fired_one(item, executor.name)
                    continue
                except Exception:
                    logger.exception("could not enqueue execution %d", item.execution_id)
            later.append(item)
        return later

    def _adopt(self) -> None:
        epoch = self.lease.epoch
        if epoch is None:
            return
        # After a failed pass, also our own epoch's pending rows that we are not dispatching.
        mine = self._in_flight() if self._unsure else None
        adopted = store.adopt_pending(epoch, self.batch_size, self.using, mine=mine)
        self._unsure = self._unsure and len(adopted) == self.batch_size  # more may remain
        for claimed in adopted:
            logger.info("dispatching pending execution %d", claimed.execution_id)
            self._schedule_start(claimed, epoch)

    def _in_flight(self) -> set[int]:
        """Executions this process is dispatching: waiting for their instant, or handed to an
        executor and not ended. One popped by the timer thread meanwhile may be missed and
        dispatched twice: harmless, its start is a compare-and-swap."""
        return self._timers.execution_ids().union(
            *(e.running_ids() for e in self.executors.values())
        )

    # Starting on the instant.

    def _schedule_start(self, claimed: Claimed, epoch: int) -> None:
        # Hand it over a lookahead early: the worker claims the row (pending -> running)
        # first and then waits for the instant, so the job starts on time.
        self._timers.push(claimed.run_at - timedelta(seconds=self.lookahead), claimed, epoch)

    def _drop_timers(self) -> None:
        # Rows claimed ahead stay pending; the next holder adopts them.
        self._timers.clear()

    def _release_timers(self) -> None:
        for claimed, epoch in self._timers.pop_due(self.clock.now()):
            self._start(claimed, epoch)

    def _start(self, claimed: Claimed, epoch: int) -> None:
        executor = self.executors.get(claimed.executor or "default")
        if executor is None:
            store.fail_unstarted(
                claimed.execution_id,
                f"executor {claimed.executor!r} is not configured in SCHEDULES_EXECUTORS",
                self.clock.now(),
                self.using,
            )
            return
        try:
            start_in = (claimed.run_at - self.clock.now()).total_seconds()
            executor.submit(claimed.execution_id, epoch, claimed.timeout, start_in=start_in)
        except Exception:
            logger.exception(
                "executor %r refused execution %d", executor.name, claimed.execution_id
            )
            return
        self._fired_one(claimed, executor.name)

    def _fired_one(self, claimed: Claimed, executor: str) -> None:
        """One INFO line per firing (docs/operations.md#logging), counted for the heartbeat."""
        self._fired.append(self.clock.monotonic())
        if not logger.isEnabledFor(logging.INFO):
            return  # a burst starts thousands: skip formatting lines nobody keeps
        late = (self.clock.now() - claimed.fire_time).total_seconds()
        logger.info(
            "firing %s (execution %d) for %s, %.3f s late, on executor %r",
            claimed.job_id or "a manual run",
            claimed.execution_id,
            claimed.fire_time.isoformat(),
            max(late, 0.0),
            executor,
        )

    def _timer_loop(self) -> None:
        """Start claimed-ahead executions at their instant (the loop thread may be asleep)."""
        try:
            while not self._stop.is_set():
                self._timers.wait(self.clock.now, self.poll_interval)
                self._release_timers()
        finally:
            connections.close_all()

    # Upkeep.

    def _housekeeping(self) -> None:
        now = self.clock.now()
        role = ProcessRole.LEADER if self.lease.held else ProcessRole.STANDBY
        if role != self._reported_role:
            self._housekeeping_at = 0.0  # report a new role at once
        for executor in self.executors.values():
            for execution_id, timeout in executor.overdue():
                store.time_out(execution_id, timeout, now, self.using)
                if executor.stop_run(execution_id):
                    logger.warning(
                        "execution %d ran past its timeout; marked failed and stopped (its "
                        "worker process killed, or its coroutine cancelled)",
                        execution_id,
                    )
                else:
                    logger.warning(
                        "execution %d ran past its timeout; marked failed (a thread cannot "
                        "be killed: it runs on until it ends)",
                        execution_id,
                    )
        mono = self.clock.monotonic()
        if mono >= self._housekeeping_at:
            self._housekeeping_at = mono + self.lease_ttl / 3
            running = [i for e in self.executors.values() for i in e.running_ids()]
            store.heartbeat(running, self.using)
            self._report(role, now, mono)
            epoch = self.lease.epoch
            if epoch is not None:
                for executor in self.executors.values():
                    executor.sweep(epoch)
            if self.lease.held and mono >= self._lost_check_at:
                self._lost_check_at = mono + self.lease_ttl
                lost = store.mark_lost(
                    # Runs heartbeat every third of a TTL: this process's (--lease-ttl) for its
                    # own, SCHEDULES_LEASE_TTL's for a tasks worker, which cannot see ours.
                    # Wait out the longer, so a live run is never called lost.
                    older_than=timedelta(seconds=max(self.lease_ttl, conf.SCHEDULES_LEASE_TTL)),
                    reason="its worker stopped heartbeating",
                    now=now,
                    using=self.using,
                )
                if lost:
                    logger.warning("%d execution(s) lost: their worker stopped", len(lost))
                    _announce_lost(lost, self.using)
            if self.lease.held and mono >= self._prune_at:
                self._prune()
                self._prune_at = mono + PRUNE_EVERY

    def _prune(self) -> None:
        """Delete finished executions older than SCHEDULES_KEEP_EXECUTIONS: a few batches at a
        time (the rest waits for the next round), so pruning never holds up firing. Age is
        judged by the database's clock, like every other expiry."""
        keep = conf.SCHEDULES_KEEP_EXECUTIONS
        if keep is None:
            return
        deleted = 0
        try:
            before = store.database_now(self.using) - keep
            batches = store.prune_executions(before, batch_size=PRUNE_BATCH, using=self.using)
            deleted = sum(itertools.islice(batches, PRUNE_BATCHES))
        except DatabaseError as exc:
            logger.warning("pruning old executions failed, retried later: %s", exc)
        if deleted:
            logger.info("pruned %d execution(s) older than %s", deleted, keep)

    def _report(self, role: str, now: datetime, mono: float) -> None:
        """The process heartbeat: every third of the TTL (with the lease renewal, or a
        standby's acquire attempts), and at once when the role changes; once per TTL, delete
        the rows of processes silent for three TTLs."""
        while self._fired and self._fired[0] < mono - 60:
            self._fired.popleft()
        lag: float | None = None
        if role == ProcessRole.LEADER:
            earliest = self._earliest
            lag = 0.0 if earliest is None else max(0.0, (now - earliest).total_seconds())
        report = store.ProcessReport(
            group=self.group,
            owner=self.owner,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            role=role,
            started_at=self._started_at,
            last_tick_at=self._last_tick_at,
            fired_last_minute=len(self._fired),
            lag=lag,
        )
        try:
            store.report_process(report, self.using)
            self._reported_role = role
            if mono >= self._expire_at:
                self._expire_at = mono + self.lease_ttl
                store.expire_processes(timedelta(seconds=3 * self.lease_ttl), self.using)
        except DatabaseError as exc:  # never let the report stop the firing
            logger.warning("could not report the scheduler process: %s", exc)

    # The loop.

    def run(self, *, once: bool = False) -> None:
        """Loop until ``stop()``; with `once`, fire what is due now, wait for it, and return.

        A ``stop()`` that came before ``run()`` (a SIGTERM while the process was starting)
        makes it return at once; ``run()`` forgets the stop when it returns, so the scheduler
        can run again."""
        timer = None
        # A claim holds the lease row's lock: should this process freeze inside one, the
        # server ends the transaction, so a standby can take over (store docstring).
        stop_guarding = store.abort_idle_transactions(self.using, self.lease_ttl)
        try:
            if once:
                self._run_once()
                return
            timer = threading.Thread(target=self._timer_loop, name="schedules-timer", daemon=True)
            timer.start()
            self._waker = _make_waker(self.using, self._stop)
            while not self._stop.is_set():
                try:
                    wait = self.tick()
                except DatabaseError as exc:
                    # A restart, a dropped connection, an ambiguous commit: close it, wait, and
                    # on the next pass dispatch what the failed one may have left pending (a
                    # claim whose commit landed unseen): see _adopt.
                    logger.warning("database error in the scheduler loop: %s", exc)
                    connections[self.using].close()
                    self._unsure = True
                    wait = self.poll_interval
                except Exception:
                    logger.exception("error in the scheduler loop; retrying")
                    wait = self.poll_interval
                self._keep_connection()
                if wait > 0 and not self._stop.is_set():
                    self._waker.wait(wait)
        finally:
            stop_guarding()
            self._stop.set()
            if timer is not None:
                self._timers.wake()
                timer.join()
            self._shutdown()
            self._stop.clear()

    def _keep_connection(self) -> None:
        """Keep the loop's connection across ticks (not CONN_MAX_AGE: a tick is not a
        request); close it only when an error left it unusable, to reconnect next tick."""
        conn = connections[self.using]
        if conn.connection is not None and conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()

    def _run_once(self) -> None:
        deadline = self.clock.monotonic() + self.lease_ttl * 2
        while not self.lease.acquire():
            if self._stop.is_set():
                return
            if self.clock.monotonic() > deadline:
                logger.warning("--once: another scheduler holds the %r lease", self.group)
                return
            self.clock.sleep(self.poll_interval)
        while not self._stop.is_set() and self.tick() == 0.0:
            pass
        while self._timers and not self._stop.is_set():  # claimed ahead: start on the instant
            self.clock.sleep(0.001)
            self._release_timers()
        # Until they end, or a signal: then _shutdown gives them the grace, as without --once.
        self._wait_for_runs(float("inf"), until_stopped=True)

    def _wait_for_runs(self, grace: float, *, until_stopped: bool = False) -> list[int]:
        deadline = time.monotonic() + grace
        beat_at = time.monotonic() + self.lease_ttl / 3
        while True:
            running = [i for e in self.executors.values() for i in e.running_ids()]
            if not running or time.monotonic() >= deadline:
                return running
            if until_stopped and self._stop.is_set():
                return running
            if time.monotonic() >= beat_at:
                beat_at = time.monotonic() + self.lease_ttl / 3
                try:
                    store.heartbeat(running, self.using)
                except DatabaseError as exc:  # a missed beat: never a crash while shutting down
                    logger.warning("could not heartbeat the running executions: %s", exc)
            time.sleep(0.01)

    def stop(self) -> None:
        """Ask the loop to stop: it stops claiming, releases the lease, lets runs finish up to
        ``SCHEDULES_SHUTDOWN_GRACE`` seconds, and records any still running as lost.

        It takes locks, so not from a signal handler: one that interrupts the thread holding
        them waits for ever. Hand it to a thread (runscheduler's ``StopOnSignal``)."""
        self._stop.set()
        self._timers.wake()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _shutdown(self) -> None:
        try:
            self._drop_timers()
            try:
                self.lease.release()
            except DatabaseError as exc:
                logger.warning("could not release the lease: %s", exc)
            if self._executors:
                still = self._wait_for_runs(self.shutdown_grace)
                for executor in self._executors.values():
                    executor.close()
                if still:
                    lost = store.mark_lost(
                        execution_ids=still,
                        reason="the scheduler shut down before it finished",
                        now=self.clock.now(),
                        using=self.using,
                    )
                    logger.warning("%d execution(s) still running at shutdown: lost", len(still))
                    _announce_lost(lost, self.using)
            try:
                store.forget_process(self.owner, self.using)
            except DatabaseError as exc:
                logger.warning("could not remove the scheduler process row: %s", exc)
        finally:
            if self._waker is not None:
                self._waker.close()
                self._waker = None


def _announce_lost(execution_ids: list[int], using: str) -> None:
    from django_schedules.executors import send_signals

    for execution_id in execution_ids:
        send_signals(using, execution_id, "execution_finished", "execution_failed")


# In-process faces.


class BackgroundScheduler:
    """Run the loop in a daemon thread inside a web or worker process.

    Several processes elect one leader through the same lease, so four gunicorn workers still
    fire each occurrence once.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.scheduler = Scheduler(**kwargs)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="schedules-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.scheduler.run()
        except Exception:
            logger.exception("the background scheduler stopped on an error")
        finally:
            connections.close_all()

    def shutdown(self, wait: bool = True) -> None:
        if self._thread is None or not self._thread.is_alive():
            return  # not running: nothing to stop (a stop now would end the next start)
        self.scheduler.stop()
        if wait:
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class AsyncIOScheduler:
    """The same loop beside an asyncio event loop (an ASGI lifespan, ``runscheduler
    --asyncio``, Tornado's IOLoop): the scheduling loop runs in a worker thread so its queries
    never block the event loop; sync jobs run in the executors' threads, and ``async def``
    jobs run on the event loop that ``start()`` is awaited on (the thread and inline
    executors hand them over; a run past its timeout is cancelled there).
    """

    def __init__(self, **kwargs: Any) -> None:
        self.scheduler = Scheduler(**kwargs)
        self._task: asyncio.Future[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for executor in self.scheduler.executors.values():
            executor.use_event_loop(loop)
        self._task = loop.run_in_executor(None, _run_and_close, self.scheduler.run)

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return  # not running: nothing to stop (a stop now would end the next start)
        self.scheduler.stop()
        await self._task

    async def serve(self) -> None:
        """Run until cancelled or stopped; stop cleanly on cancellation."""
        await self.start()
        try:
            assert self._task is not None  # noqa: S101 - set by start()
            await asyncio.shield(self._task)
        finally:
            await self.shutdown()


def _run_and_close(func: Callable[[], None]) -> None:
    try:
        func()
    finally:
        connections.close_all()
