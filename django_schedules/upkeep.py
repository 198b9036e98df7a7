"""The scheduler's upkeep, apart from firing: time out its overdue runs, heartbeat the runs it
executes, mark lost the runs whose worker stopped heartbeating, let executors sweep, prune old
executions, and report the process (``SchedulerProcess``).

:class:`Upkeep` belongs to one :class:`~django_schedules.scheduler.Scheduler`, which calls
:meth:`Upkeep.run` on each pass; most of it runs once per third of the lease TTL.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import DatabaseError

from django_schedules import __version__, planner, runner, store
from django_schedules.clock import Clock
from django_schedules.conf import conf
from django_schedules.executors import Executor
from django_schedules.lease import Lease
from django_schedules.models import ProcessRole, Schedule
from django_schedules.signals import schedule_changed

# The scheduler's logger, which operators may have configured (docs/operations.md).
logger = logging.getLogger("django_schedules.scheduler")

# Pruning old executions (SCHEDULES_KEEP_EXECUTIONS): how often the leader looks, and how
# much it deletes per look, in batches of short transactions.
PRUNE_EVERY = 300.0
PRUNE_BATCH = 1000
PRUNE_BATCHES = 10
# Pauses that ended (paused_until), resumed per heartbeat round; the rest wait for the next.
PAUSE_BATCH = 100


@dataclass(frozen=True)
class LoopFacts:
    """What the loop knows that the process report tells (docs/operations.md)."""

    started_at: datetime
    last_tick_at: datetime | None
    earliest: datetime | None  # the last probe's earliest next run
    fired_last_minute: int


class Upkeep:
    """The upkeep of one scheduler. ``executors`` and ``facts`` are asked afresh each time:
    the scheduler builds its executors on first use, and its facts change with every pass.

    ``heartbeat_at``, ``lost_check_at``: the monotonic instants of the next heartbeat round
    and the next look for lost runs; set either to 0 to have it done on the next ``run()``.
    """

    def __init__(
        self,
        *,
        group: str,
        lease: Lease,
        clock: Clock,
        using: str,
        lease_ttl: float,
        executors: Callable[[], dict[str, Executor]],
        facts: Callable[[float], LoopFacts],
    ) -> None:
        self.group = group
        self.lease = lease
        self.clock = clock
        self.using = using
        self.lease_ttl = lease_ttl
        self._executors = executors
        self._facts = facts
        self.heartbeat_at = 0.0
        self.lost_check_at = 0.0
        self._prune_at = 0.0
        self._expire_at = 0.0
        # Buffered runs may wait with no run going (a claim buffered some, a run was lost or
        # timed out): look each heartbeat round until none is found, and every prune round.
        self.buffers_waiting = False
        self._reported_role = ""

    def run(self) -> None:
        now = self.clock.now()
        role = ProcessRole.LEADER if self.lease.held else ProcessRole.STANDBY
        if role != self._reported_role:
            self.heartbeat_at = 0.0  # report a new role at once
        executors = self._executors().values()
        for executor in executors:
            for execution_id, timeout in executor.overdue():
                self.buffers_waiting = True
                runner.time_out(
                    execution_id,
                    timeout,
                    self.using,
                    stop=partial(executor.stop_run, execution_id),
                    unstopped="a thread cannot be killed: it runs on until it ends",
                    now=now,
                )
        mono = self.clock.monotonic()
        if mono < self.heartbeat_at:
            return
        self.heartbeat_at = mono + self.lease_ttl / 3
        running = [i for e in executors for i in e.running_ids()]
        # Only the runs not beaten (or started) for a sixth of the TTL: each is then at most
        # half a TTL old, well within the TTL after which it counts as lost, and a stream of
        # short runs is not written again while the finisher ends them (their locks).
        fresh = timedelta(seconds=self.lease_ttl / 6)
        store.heartbeat(running, self.using, older_than=fresh)
        self.report(role, now, mono)
        epoch = self.lease.epoch
        if epoch is not None:
            for executor in executors:
                executor.sweep(epoch)
        if self.lease.held:
            self.end_pauses(now)
        if self.lease.held and self.buffers_waiting:
            self.release_stranded(now)
        if self.lease.held and mono >= self.lost_check_at:
            self.lost_check_at = mono + self.lease_ttl
            self.mark_lost(now)
        if self.lease.held and mono >= self._prune_at:
            self.release_stranded(now)
            self.prune()
            self._prune_at = mono + PRUNE_EVERY

    def mark_lost(self, now: datetime) -> None:
        lost = store.mark_lost(
            # Runs heartbeat every third of a TTL: this process's (--lease-ttl) for its own,
            # SCHEDULES_LEASE_TTL's for a tasks worker, which cannot see ours. Wait out the
            # longer, so a live run is never called lost.
            older_than=timedelta(seconds=max(self.lease_ttl, conf.SCHEDULES_LEASE_TTL)),
            reason="its worker stopped heartbeating",
            now=now,
            using=self.using,
        )
        if lost:
            self.buffers_waiting = True
            logger.warning("%d execution(s) lost: their worker stopped", len(lost))
            runner.announce_failed(lost, self.using)

    def after_claim(self, result: store.ClaimResult, now: datetime) -> None:
        """What a claim asks of the upkeep: stop the runs overlap=cancel_running replaces,
        and look for buffered runs to release on the next rounds."""
        self.buffers_waiting = self.buffers_waiting or result.buffered
        self.stop_overlapped(result.cancel_running, now)

    def stop_overlapped(self, schedule_ids: list[int], now: datetime) -> None:
        """overlap=cancel_running: mark failed the running runs of these schedules, then
        have the executor that ran each stop it (a process pool kills its worker; a tasks
        executor asks Celery or RQ to). A run in a process pool of another process (a former
        leader's) is marked but runs on; its late finish finds the row failed and is dropped."""
        if not schedule_ids:
            return
        reason = "cancelled: overlap=cancel_running started the next occurrence"
        try:
            found = store.stop_running(schedule_ids, reason, now, self.using)
        except DatabaseError as exc:  # the new run starts anyway; the old one runs on
            logger.warning("could not cancel the runs overlapped by the next: %s", exc)
            return
        executors = self._executors()
        for execution_id, name in found:
            executor = executors.get(name or "default")
            stopped = executor is not None and executor.stop_run(execution_id)
            fate = "stopped" if stopped else "marked failed (not running here: not stopped)"
            logger.warning(
                "execution %d cancelled by overlap=cancel_running: %s", execution_id, fate
            )
        if found:
            runner.announce_failed([pk for pk, _ in found], self.using)

    def release_stranded(self, now: datetime) -> None:
        """Release the buffered runs of schedules with no run going: the finisher releases
        them as a run ends, and this backstop the ones it could not (a run that ended while
        the claim buffered, was marked lost or timed out)."""
        try:
            released, waiting = store.release_stranded(now, PAUSE_BATCH, self.using)
        except DatabaseError as exc:
            logger.warning("releasing buffered runs failed: %s", exc)
            return
        self.buffers_waiting = waiting
        if released:
            logger.info("%d buffered run(s) released", len(released))

    def end_pauses(self, now: datetime) -> None:
        """Resume the schedules whose pause ended (``pause_job(..., until=...)``), each from its
        first occurrence at or after its end, exactly once (``store.end_pause``), and send
        ``schedule_changed`` (action ``"resumed"``) for each."""
        try:
            for pause in store.expired_pauses(now, PAUSE_BATCH, self.using):
                next_run_at = planner.resume_from(pause.trigger, pause.paused_until)
                if not store.end_pause(pause, next_run_at, now, self.using):
                    continue  # resumed or changed by someone else meanwhile
                logger.info("%s resumed: its pause ended at %s", pause.job_id, pause.paused_until)
                schedule = store.find_schedule(pause.job_id, self.using)
                if schedule is not None:
                    schedule_changed.send(
                        sender=Schedule, schedule=schedule, job_id=pause.job_id, action="resumed"
                    )
        except DatabaseError as exc:  # never let it stop the firing: tried again next round
            logger.warning("resuming the schedules whose pause ended failed: %s", exc)

    def prune(self) -> None:
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

    def report(self, role: str, now: datetime, mono: float) -> None:
        """The process heartbeat: every third of the TTL (with the lease renewal, or a
        standby's acquire attempts), and at once when the role changes; once per TTL, delete
        the rows of processes silent for three TTLs."""
        facts = self._facts(mono)
        lag: float | None = None
        if role == ProcessRole.LEADER:
            earliest = facts.earliest
            lag = 0.0 if earliest is None else max(0.0, (now - earliest).total_seconds())
        report = store.ProcessReport(
            group=self.group,
            owner=self.lease.owner,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            role=role,
            started_at=facts.started_at,
            last_tick_at=facts.last_tick_at,
            fired_last_minute=facts.fired_last_minute,
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
