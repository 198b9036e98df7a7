"""The tasks executor: each execution enqueued on Django's tasks framework as
``django_schedules.tasks.run_execution(execution_id, delivery, not_before)``.

The enqueue is a network call to a broker that may be slow or down, so it never runs on the
scheduler's threads: ``submit`` puts the execution in this executor's outbox, and a few
publisher threads of its own send it (concurrently, so a burst is not sent one by one). A
failed enqueue goes back in the outbox with a growing delay; one that still fails
``give_up_after`` seconds later is finished ``failed``, so its schedule's next occurrences are
not held back by ``max_instances``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections

from django_schedules import runner, store
from django_schedules.bursts import MAX_LEAD
from django_schedules.executors.base import Executor
from django_schedules.store.rows import Claimed

logger = logging.getLogger("django_schedules.executors")

# The longest a worker waits for a message's instant (django_schedules.tasks.MOST_WAIT, not
# imported here: that module needs the tasks framework).
MOST_WAIT = 5.0
# How long before its instant a message is sent, by default: over the longest a burst is
# claimed ahead of the look-ahead (bursts.MAX_LEAD), so the outbox sends a burst as soon as the
# loop hands it over, and the claim and the publish both happen before the instant.
DEFER_OVER = MAX_LEAD + 0.5


@dataclass(order=True)
class _Delivery:
    """One execution waiting in the outbox."""

    due: float  # monotonic: when to (re)try the enqueue
    seq: int
    execution_id: int = field(compare=False)
    epoch: int | None = field(compare=False)
    instant: datetime = field(compare=False)  # the occurrence's start (wall clock, UTC)
    delivery: int = field(compare=False, default=1)  # which enqueue of the row this is
    tries: int = field(compare=False, default=0)  # failed enqueues of this delivery
    since: float = field(compare=False, default=0.0)  # monotonic: the first try
    error: Exception | None = field(compare=False, default=None)  # the last failure
    queue: str | None = field(compare=False, default=None)  # the schedule's; None: ours
    priority: int | None = field(compare=False, default=None)


def _number(options: dict[str, Any], key: str, default: float) -> float:
    return float(options.get(key, default))


class TasksExecutor(Executor):
    """Hand each execution to Django's tasks framework (``django.tasks`` on Django 6, the
    ``django-tasks`` backport on 5.2) as ``run_execution(execution_id, delivery, not_before)``.

    OPTIONS (docs/executors.md has the table): ``backend`` (a ``TASKS`` alias, default
    ``"default"``), ``queue_name``, ``priority``; ``publishers`` (threads sending to the
    broker, 4) and ``batch`` (deliveries one of them sends at once, 100); ``retry_backoff``
    and ``max_backoff`` (0.5 s doubling up to 5 s after a failed enqueue; all at once when
    one goes through again); ``enqueue_timeout`` (10 s: an enqueue that has not returned is
    tried again from another thread); ``give_up_after`` (300 s: an execution that could not
    be enqueued that long is finished ``failed``); ``defer_over`` (2.5 s, at most 5 s: a
    longer lead waits in the outbox until ``defer_over`` before the instant, then is sent and
    the worker waits for the instant; the broker's own deferral, such as RQ's scheduler and
    its lock, is never relied on); ``redeliver_after`` (60 s) and ``max_redeliveries`` (3):
    the sweeper.

    The sweeper: an execution still ``pending`` ``redeliver_after`` seconds after its start
    time, while this leader still holds the lease, is enqueued again, up to
    ``max_redeliveries`` times; then it is finished ``failed`` (no worker took it), and a late
    worker's CAS finds nothing to run.

    Timeouts: the worker enforces the schedule's ``timeout`` itself (``run_execution`` runs
    with ``stop_at_timeout``). As a backstop for a worker that cannot (frozen, or gone before
    writing it), the leader's sweep marks failed a run still ``running`` one lease TTL past
    ``started_at + timeout`` (:func:`django_schedules.runner.time_out_overdue`).
    """

    def __init__(self, name: str, options: dict[str, Any], *, using: str) -> None:
        super().__init__(name, options, using=using)
        self.backend = str(options.get("backend", "default"))
        self.queue_name: str | None = options.get("queue_name")
        priority = options.get("priority")
        self.priority: int | None = None if priority is None else int(priority)
        self.redeliver_after = _number(options, "redeliver_after", 60.0)
        self.max_redeliveries = int(options.get("max_redeliveries", 3))
        self.publishers = max(int(options.get("publishers", 4)), 1)
        self.retry_backoff = _number(options, "retry_backoff", 0.5)
        self.max_backoff = _number(options, "max_backoff", 5.0)
        self.give_up_after = _number(options, "give_up_after", 300.0)
        # The worker waits for the instant at most tasks.MOST_WAIT: a message sent earlier
        # would start early.
        self.defer_over = min(_number(options, "defer_over", DEFER_OVER), MOST_WAIT)
        self.enqueue_timeout = _number(options, "enqueue_timeout", 10.0)
        self.batch = max(int(options.get("batch", 100)), 1)
        # id -> (monotonic time to look again, deliveries so far, queue, priority): enqueued,
        # not seen started
        self._enqueued: dict[int, tuple[float, int, str | None, int | None]] = {}
        self._outbox: list[_Delivery] = []
        self._busy: dict[threading.Thread, tuple[float, list[_Delivery]]] = {}
        self._abandoned: set[threading.Thread] = set()  # stuck in a call that never returned
        self._seq = itertools.count()
        self._cond = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._in_transaction: bool | None = None
        self._at_once: bool | None = None

    # What the scheduler asks.

    @property
    def holds_until_due(self) -> bool:  # type: ignore[override]
        """The outbox holds a run until `defer_over` before its instant (not the immediate
        backend, which runs it in the caller's thread)."""
        return not self.runs_at_once

    @property
    def enqueues_in_transaction(self) -> bool:
        """True for django-tasks-db writing to our database: it enqueues inside the claim.
        A backend that cannot even be built answers False (its enqueues then fail in the
        outbox and are retried): it never breaks the claim of other executors' rows."""
        if self._in_transaction is None:
            try:
                # Imported on first use: it needs django.tasks (Django 6) or the backport.
                from django_schedules import tasks

                self._in_transaction = tasks.backend_writes_to(self.backend, self.using)
            except Exception:
                logger.exception("tasks executor %r: the backend %r", self.name, self.backend)
                self._in_transaction = False
        return self._in_transaction

    @property
    def runs_at_once(self) -> bool:
        """True for the immediate backend: ``submit`` runs the task in the caller's thread,
        as the ``inline`` executor does (there is no broker to keep off the timer thread)."""
        if self._at_once is None:
            try:
                from django_schedules import tasks

                self._at_once = tasks.backend_runs_at_once(self.backend)
            except Exception:
                self._at_once = False
        return self._at_once

    def running_ids(self) -> list[int]:
        with self._lock:
            waiting = {d.execution_id for d in self._outbox}
            waiting.update(item.execution_id for _, batch in self._busy.values() for item in batch)
        return sorted(waiting.union(super().running_ids()))

    def stop_run(self, execution_id: int) -> bool:
        """Stop a run going in the engine's worker (overlap=cancel_running): Celery revokes
        its messages with terminate, RQ sends its stop-job command (``tasks.stop_in_engine``).
        The messages are named by their deliveries: those this executor sent, else every one
        the sweeper could have sent (another leader enqueued it). False where the engine
        cannot stop a run, or the broker could not be reached (logged)."""
        with self._lock:
            known = self._enqueued.get(execution_id)
        deliveries = known[1] if known is not None else self.max_redeliveries + 1
        queue = known[2] if known is not None else None
        try:
            from django_schedules import tasks

            return tasks.stop_in_engine(
                self.backend, queue or self.queue_name, execution_id, deliveries
            )
        except Exception as exc:
            logger.warning(
                "tasks executor %r could not stop execution %d: %r", self.name, execution_id, exc
            )
            return False

    def submit_claimed(self, claimed: Claimed, epoch: int | None, start_in: float) -> None:
        """``submit`` to the schedule's queue at its priority (the executor's own when it
        names none)."""
        self.submit(
            claimed.execution_id,
            epoch,
            claimed.timeout,
            start_in,
            queue=claimed.queue or None,
            priority=claimed.priority,
        )

    def submit(
        self,
        execution_id: int,
        epoch: int | None,
        timeout: float | None,
        start_in: float = 0.0,
        *,
        queue: str | None = None,
        priority: int | None = None,
    ) -> None:
        instant = datetime.now(UTC) + timedelta(seconds=max(start_in, 0.0))
        in_claim = self.enqueues_in_transaction and connections[self.using].in_atomic_block
        if in_claim or self.runs_at_once:
            # Inside the claim the task row commits or rolls back with the Execution; the
            # immediate backend runs the job here.
            self._enqueue(execution_id, instant, 1, queue, priority)
            self._remember(execution_id, start_in, 1, queue, priority)
            return
        # A long lead waits here, not in the broker: RQ's deferred jobs wait for the worker
        # holding RQ's scheduler lock, which outlives a killed worker by a minute (issue 17).
        send_in = max(start_in - self.defer_over, 0.0)
        self._post(
            _Delivery(
                time.monotonic() + send_in,
                next(self._seq),
                execution_id,
                epoch,
                instant,
                queue=queue,
                priority=priority,
            )
        )

    # The outbox and its publishers.

    def _post(self, item: _Delivery) -> None:
        with self._cond:
            if self._closed:
                return
            item.seq = next(self._seq)
            heapq.heappush(self._outbox, item)
            self._abandon_stuck(time.monotonic())
            self._staff()
            self._cond.notify()

    def _staff(self) -> None:
        """Keep `publishers` threads that are not stuck: the idle ones watch the busy ones
        (call holding the lock)."""
        while len(self._threads) < self.publishers and len(self._abandoned) < 4 * self.publishers:
            thread = threading.Thread(
                target=self._publish_loop,
                name=f"schedules-tasks-{self.name}-{next(self._seq)}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def _abandon_stuck(self, now: float) -> float | None:
        """A publisher whose enqueue has not returned after `enqueue_timeout` seconds (a broker
        that accepts the connection and never answers) is left to it: its execution goes back
        in the outbox for another thread, and a new thread takes its place. Return when to
        look again (call holding the lock)."""
        look_again: float | None = None
        for thread, (started, batch) in list(self._busy.items()):
            if thread not in self._threads:
                continue
            if now - started < self.enqueue_timeout:
                at = started + self.enqueue_timeout
                look_again = at if look_again is None else min(look_again, at)
                continue
            self._threads.remove(thread)
            self._abandoned.add(thread)
            logger.warning(
                "enqueue of %d executions on tasks backend %r has not returned after %gs; "
                "sending them again from another thread",
                len(batch),
                self.backend,
                self.enqueue_timeout,
            )
            error = TimeoutError(f"no answer from the broker in {self.enqueue_timeout:g}s")
            for item in batch:
                retry = replace(
                    item, tries=item.tries + 1, since=item.since or started, due=now, error=error
                )
                retry.seq = next(self._seq)
                heapq.heappush(self._outbox, retry)
            self._staff()
        return look_again

    def _next(self) -> list[_Delivery] | None:
        """The next due deliveries, up to `batch` of them: a burst goes to the broker in a
        few bulk calls (RQ's pipeline) rather than one by one."""
        me = threading.current_thread()
        with self._cond:
            while not self._closed and me in self._threads:
                now = time.monotonic()
                look_again = self._abandon_stuck(now)
                if self._outbox and self._outbox[0].due <= now:
                    batch: list[_Delivery] = []
                    while self._outbox and self._outbox[0].due <= now and len(batch) < self.batch:
                        batch.append(heapq.heappop(self._outbox))
                    self._busy[me] = (now, batch)
                    if self._outbox and self._outbox[0].due <= now:
                        self._cond.notify()  # more for another publisher
                    return batch
                first = self._outbox[0].due if self._outbox else None
                times = [at for at in (look_again, first) if at is not None]
                self._cond.wait(min(times) - now if times else None)
            return None

    def _publish_loop(self) -> None:
        me = threading.current_thread()
        try:
            while (batch := self._next()) is not None:
                try:
                    self._publish(batch)
                except Exception:  # a bug of ours: never lose the thread silently
                    logger.exception("tasks executor %r: %d executions", self.name, len(batch))
                finally:
                    with self._lock:
                        self._busy.pop(me, None)
        finally:
            with self._lock:
                self._abandoned.discard(me)
            connections.close_all()

    def _publish(self, batch: list[_Delivery]) -> None:
        now = time.monotonic()
        ready: list[_Delivery] = []
        for item in batch:
            if item.tries and now - item.since >= self.give_up_after:
                self._give_up(item, item.error or "the last try did not return")
            else:
                ready.append(item)
        # A retry: only while the row still waits under our epoch (not adopted by a newer
        # leader, not started by a late delivery).
        retried = [i for i in ready if i.tries and i.epoch is not None]
        if retried:
            waiting = {
                pk
                for epoch in {i.epoch for i in retried if i.epoch is not None}
                for pk in store.still_pending(
                    [i.execution_id for i in retried if i.epoch == epoch], epoch, self.using
                )
            }
            ready = [i for i in ready if i not in retried or i.execution_id in waiting]
        if not ready:
            return
        try:
            self._enqueue_many(ready)
        except Exception as exc:
            self._retry_later(ready, exc, now)
            return
        for item in ready:
            start_in = (item.instant - datetime.now(UTC)).total_seconds()
            self._remember(item.execution_id, start_in, item.delivery, item.queue, item.priority)
        self._broker_is_back()

    def _broker_is_back(self) -> None:
        """An enqueue went through: what waits out a backoff goes now, not seconds after the
        broker came back."""
        with self._cond:
            now = time.monotonic()
            waiting = [item for item in self._outbox if item.tries and item.due > now]
            if waiting:
                for item in waiting:
                    item.due = now
                heapq.heapify(self._outbox)
                self._cond.notify_all()

    def _retry_later(self, batch: list[_Delivery], exc: Exception, now: float) -> None:
        tries = max(item.tries for item in batch) + 1
        delay = min(self.retry_backoff * 2 ** (tries - 1), self.max_backoff)
        logger.warning(
            "could not enqueue %d executions (%s) on tasks backend %r (try %d; again in %.1fs): %s",
            len(batch),
            ", ".join(str(item.execution_id) for item in batch[:5]),
            self.backend,
            tries,
            delay,
            exc,
            exc_info=tries == 1,
        )
        for item in batch:
            item.tries += 1
            item.since = item.since or now
            item.error = exc
            item.due = now + delay
            self._post(item)

    def _give_up(self, item: _Delivery, exc: object) -> None:
        reason = (
            f"not delivered: enqueue on tasks backend {self.backend!r} failed {item.tries} "
            f"times over {self.give_up_after:g}s: {exc}"
        )
        logger.error("execution %d %s", item.execution_id, reason)
        if store.fail_unstarted(item.execution_id, reason, datetime.now(UTC), self.using):
            runner.announce_failed([item.execution_id], self.using)

    def _lead(self, instant: datetime) -> datetime | None:
        """`run_after` for a lead over `defer_over` enqueued inside the claim (django-tasks-db,
        whose workers poll our database for it); None to send at once."""
        lead = (instant - datetime.now(UTC)).total_seconds()
        return instant if lead > self.defer_over else None

    def _enqueue(
        self,
        execution_id: int,
        instant: datetime,
        delivery: int,
        queue: str | None,
        priority: int | None,
    ) -> str:
        from django_schedules import tasks

        return tasks.enqueue(
            execution_id,
            backend=self.backend,
            queue_name=queue or self.queue_name,
            priority=self.priority if priority is None else priority,
            delivery=delivery,
            not_before=instant,
            run_after=self._lead(instant),
        )

    def _enqueue_many(self, batch: list[_Delivery]) -> None:
        from django_schedules import tasks

        routes: dict[tuple[str | None, int | None], list[_Delivery]] = {}
        for item in batch:
            routes.setdefault((item.queue, item.priority), []).append(item)
        for (queue, priority), items in routes.items():
            tasks.enqueue_many(
                # The outbox held a long lead until `defer_over` before its instant: sent now.
                [(i.execution_id, i.delivery, i.instant, None) for i in items],
                backend=self.backend,
                queue_name=queue or self.queue_name,
                priority=self.priority if priority is None else priority,
            )

    # The sweeper.

    def _remember(
        self,
        execution_id: int,
        start_in: float,
        deliveries: int,
        queue: str | None = None,
        priority: int | None = None,
    ) -> None:
        due = time.monotonic() + max(start_in, 0.0) + self.redeliver_after
        with self._lock:
            self._enqueued[execution_id] = (due, deliveries, queue, priority)

    def sweep(self, epoch: int) -> None:
        runner.time_out_overdue(self.name, self.using)
        now = time.monotonic()
        with self._cond:  # every publisher stuck: nobody idle watches them
            self._abandon_stuck(now)
            self._cond.notify_all()
        with self._lock:
            due = {i: (n, q, p) for i, (at, n, q, p) in self._enqueued.items() if at <= now}
        if not due:
            return
        stuck = set(store.still_pending(list(due), epoch, self.using))
        with self._lock:
            for execution_id in due:
                self._enqueued.pop(execution_id, None)  # started, finished, or adopted
        for execution_id in sorted(stuck):
            deliveries, queue, priority = due[execution_id]
            if deliveries > self.max_redeliveries:
                reason = (
                    f"not started: no worker took it after {deliveries} enqueues on tasks "
                    f"backend {self.backend!r}, {self.redeliver_after:g}s apart"
                )
                logger.error("execution %d %s (is a worker running?)", execution_id, reason)
                if store.fail_unstarted(execution_id, reason, datetime.now(UTC), self.using):
                    runner.announce_failed([execution_id], self.using)
                continue
            logger.warning(
                "execution %d still pending %gs after its enqueue on %r; enqueuing it again",
                execution_id,
                self.redeliver_after,
                self.backend,
            )
            self._post(
                _Delivery(
                    now,
                    0,
                    execution_id,
                    epoch,
                    datetime.now(UTC),
                    delivery=deliveries + 1,
                    queue=queue,
                    priority=priority,
                )
            )

    def drain(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the outbox to empty; True when it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._outbox and not any(t in self._threads for t in self._busy):
                    return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        """Send what the outbox holds (2 s at most), then stop the publishers. A row left
        unsent stays pending under this epoch: the next leader adopts and sends it."""
        self.drain(2.0)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
        deadline = time.monotonic() + 5.0
        for thread in threads:  # one stuck in a broker call is a daemon: left behind
            thread.join(timeout=max(deadline - time.monotonic(), 0.0))
