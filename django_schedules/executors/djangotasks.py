"""The tasks executor: each execution enqueued on Django's tasks framework as
``django_schedules.tasks.run_execution(execution_id)``."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.functional import cached_property

from django_schedules import runner, store
from django_schedules.executors.base import Executor

logger = logging.getLogger("django_schedules.executors")


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
    writing it), the leader's sweep marks failed a run still ``running`` one lease TTL past
    ``started_at + timeout`` (:func:`django_schedules.runner.time_out_overdue`).
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
        runner.time_out_overdue(self.name, self.using)
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

    @cached_property
    def enqueues_in_transaction(self) -> bool:
        """True for django-tasks-db writing to our database: it enqueues inside the claim."""
        # Imported on first use: it needs django.tasks (Django 6) or the django-tasks backport.
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
