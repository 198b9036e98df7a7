"""The scheduler loop: hold the lease, claim due occurrences, hand them to executors, sleep.

``Scheduler.tick()`` is one pass (tests drive it with a manual clock); ``run()`` loops until
``stop()``; ``BackgroundScheduler`` runs the loop in a daemon thread and ``AsyncIOScheduler``
beside an asyncio event loop. Its parts: what a due schedule does now is ``planner``'s, the
executions waiting for their instant are ``timers``', the sleep between passes ``wakers``'.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, connections, transaction

from django_schedules import store
from django_schedules.bursts import COUNT_CAP, BurstLead
from django_schedules.claiming import claim_batch
from django_schedules.clock import Clock, SystemClock
from django_schedules.conf import conf
from django_schedules.executors import Executor, build_executors, dropped_any
from django_schedules.lease import Lease
from django_schedules.planner import plan_schedule
from django_schedules.plans import DueSchedule, SchedulePlan
from django_schedules.runner import announce_failed
from django_schedules.store import Claimed
from django_schedules.timers import Timers
from django_schedules.upkeep import LoopFacts, Upkeep
from django_schedules.wakers import _make_waker, _Waker

logger = logging.getLogger("django_schedules.scheduler")


class Scheduler:
    """The loop for one scheduler group. Thread-compatible: drive it from one thread.

    ``clock``: where the time comes from (tests pass a ``ManualClock``). ``executors``: a
    name -> Executor dict; built from ``SCHEDULES_EXECUTORS`` when omitted. ``lookahead``:
    seconds ahead of an occurrence it is claimed, to start it on the instant (a burst is
    claimed earlier still: bursts.py).
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
        self.bursts = BurstLead(lookahead)
        self.shutdown_grace = float(
            conf.SCHEDULES_SHUTDOWN_GRACE if shutdown_grace is None else shutdown_grace
        )
        self.lease = Lease(
            group, ttl=self.lease_ttl, clock=self.clock, using=self.using, owner=owner
        )
        self._executors = executors
        self._own_executors = executors is None  # built here: rebuilt after a shutdown
        self._stop = threading.Event()
        self._timers = Timers()
        self.upkeep = Upkeep(
            group=group,
            lease=self.lease,
            clock=self.clock,
            using=self.using,
            lease_ttl=self.lease_ttl,
            executors=lambda: self.executors,
            facts=self._loop_facts,
        )
        self._waker: _Waker | None = None
        self._unsure = False  # a pass or a start failed: it may have left pending rows unheld
        # What the process heartbeat reports (SchedulerProcess; docs/operations.md).
        self._started_at = self.clock.now()
        self._last_tick_at: datetime | None = None
        self._earliest: datetime | None = None  # the last probe's earliest next run
        self._fired: deque[float] = deque()  # monotonic start times of the last minute

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
        # Claim what is due within the look-ahead once the earliest run is within half of
        # it: under a steady stream of runs each claim then takes half a look-ahead's worth
        # (50 ms of runs), not the sliver that came into the window since the last pass. A
        # burst is claimed a lead earlier, counted once per instant (bursts.py).
        lead = self.bursts.update(seen.earliest, now, self._count_due)
        horizon = self.bursts.horizon(seen.earliest, now)
        trigger = now + timedelta(seconds=self.lookahead / 2 + lead)
        if seen.earliest is not None and seen.earliest <= trigger:
            self._claim(now, horizon, epoch)
            wait = 0.0  # Look again at once: the next probe finds the new earliest run.
        else:
            reach = self.bursts.reach(seen.earliest)  # wake in time to count a burst
            wait = self._sleep_for(seen.earliest, trigger + timedelta(seconds=reach - lead))
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
        """The earliest next run (one query, checking the lease too); None: the lease is gone."""
        seen = store.probe(self.group, self.owner, epoch, self.using)
        self._earliest = seen.earliest
        if not seen.holds_lease:
            self.lease.lost()
            self._drop_timers()
            return None
        self._unsure |= dropped_any(self.executors.values())  # an executor's start failed
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

    def _count_due(self, until: datetime) -> int:
        return store.count_due(until, COUNT_CAP, self.using)

    def _claim(self, now: datetime, horizon: datetime, epoch: int) -> None:
        max_catch_up = int(conf.SCHEDULES_MAX_CATCH_UP)
        began, rows = time.perf_counter(), 0

        def planner(schedule: DueSchedule, live: int) -> SchedulePlan:
            return plan_schedule(
                schedule, live, now=now, horizon=horizon, max_catch_up=max_catch_up
            )

        while True:
            result = claim_batch(
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
            rows += result.recorded
            for claimed in result.claimed:
                self._schedule_start(claimed, epoch, early=self.bursts.lead)
            self.upkeep.after_claim(result, now)  # overlap: cancel_running, buffered runs
            if not result.more:
                self.bursts.claimed(rows, time.perf_counter() - began)
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
                        executor.submit_claimed(item, epoch, start_in)
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
        """Executions waiting for their instant or handed to an executor and not ended (one the
        timer pops meanwhile may be dispatched twice: harmless, its start is a CAS)."""
        return self._timers.execution_ids().union(
            *(e.running_ids() for e in self.executors.values())
        )

    # Starting on the instant.

    def _schedule_start(self, claimed: Claimed, epoch: int, early: float = 0.0) -> None:
        # Hand it over a lookahead early (a burst `early` more to an executor that holds it):
        # the worker claims the row (pending -> running), then waits for the instant.
        executor = self.executors.get(claimed.executor or "default")
        early = early if executor is not None and executor.holds_until_due else 0.0
        self._timers.push(
            claimed.run_at - timedelta(seconds=self.lookahead + early), claimed, epoch
        )

    def _drop_timers(self) -> None:
        self._timers.clear()  # rows claimed ahead stay pending; the next holder adopts them

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
            executor.submit_claimed(claimed, epoch, start_in)
        except Exception:
            logger.exception(
                "executor %r refused execution %d", executor.name, claimed.execution_id
            )
            self._unsure = True  # its row is still pending: dispatch it again (_adopt)
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

    # Upkeep (upkeep.py), and its next instants under the loop's names: tick() (and tests)
    # set them to 0 to have the heartbeats or the look for lost runs done on the next pass.

    def _housekeeping(self) -> None:
        self.upkeep.run()

    @property
    def _housekeeping_at(self) -> float:
        return self.upkeep.heartbeat_at

    @_housekeeping_at.setter
    def _housekeeping_at(self, at: float) -> None:
        self.upkeep.heartbeat_at = at

    @property
    def _lost_check_at(self) -> float:
        return self.upkeep.lost_check_at

    @_lost_check_at.setter
    def _lost_check_at(self, at: float) -> None:
        self.upkeep.lost_check_at = at

    def _loop_facts(self, mono: float) -> LoopFacts:
        while self._fired and self._fired[0] < mono - 60:
            self._fired.popleft()
        return LoopFacts(self._started_at, self._last_tick_at, self._earliest, len(self._fired))

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
            for executor in self.executors.values():
                executor.warm()
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
                if self._own_executors:
                    self._executors = None  # a later run() builds them afresh
                if still:
                    lost = store.mark_lost(
                        execution_ids=still,
                        reason="the scheduler shut down before it finished",
                        now=self.clock.now(),
                        using=self.using,
                    )
                    logger.warning("%d execution(s) still running at shutdown: lost", len(still))
                    announce_failed(lost, self.using)
            try:
                store.forget_process(self.owner, self.using)
            except DatabaseError as exc:
                logger.warning("could not remove the scheduler process row: %s", exc)
        finally:
            if self._waker is not None:
                self._waker.close()
                self._waker = None


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
