"""What every executor is: :class:`Executor`, and :func:`build_executors` from
``SCHEDULES_EXECUTORS``. An executor only dispatches (a queue, threads, processes, an enqueue):
the run itself is :func:`django_schedules.runner.run_execution_now`."""

from __future__ import annotations

import asyncio
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from django.utils.module_loading import import_string

from django_schedules.conf import conf
from django_schedules.runner import Deadlines, cancel_on_loop
from django_schedules.store.rows import Claimed


def _start_at(start_in: float) -> float | None:
    return time.monotonic() + start_in if start_in > 0 else None


class Executor(ABC):
    """Runs claimed executions. ``submit`` must not block the scheduler's loop."""

    def __init__(self, name: str, options: dict[str, Any], *, using: str) -> None:
        self.name = name
        self.options = options
        self.using = using
        self._lock = threading.Lock()
        self._runs = Deadlines()  # what we were handed and have not seen end
        # The AsyncIOScheduler's event loop: async jobs run there (use_event_loop).
        self.loop: asyncio.AbstractEventLoop | None = None
        self._dropped = threading.Event()  # handed-over runs left pending (dropped_some)

    def use_event_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run ``async def`` jobs on `loop` (running in another thread) rather than on a
        private loop in the worker thread. In-process executors honour it; a process pool or a
        tasks worker runs elsewhere and cannot."""
        self.loop = loop

    def submit_claimed(self, claimed: Claimed, epoch: int | None, start_in: float) -> None:
        """Hand over a claimed execution: ``submit``, for executors that do not route. The
        tasks executor also reads the schedule's queue and priority from `claimed`."""
        self.submit(claimed.execution_id, epoch, claimed.timeout, start_in=start_in)

    @abstractmethod
    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        """Run the execution, starting the job `start_in` seconds from now (not before)."""

    # True when ``submit`` may come long before the instant because the executor holds each run
    # until its own send time (the tasks executor's outbox): a burst claimed early is handed
    # over as soon as it is claimed (bursts.py), not a look-ahead before its instant.
    holds_until_due = False

    @property
    def enqueues_in_transaction(self) -> bool:
        """True when ``submit`` only writes to our database, so the scheduler calls it inside
        the claim transaction (claim and enqueue commit together)."""
        return False

    def dropped_some(self) -> bool:
        """True, once, after this executor let go of runs it was handed without starting them
        (its start's database write failed): their rows are still ``pending``, and the
        scheduler dispatches them again (its ``_adopt`` of its own unhandled rows)."""
        dropped = self._dropped.is_set()
        self._dropped.clear()
        return dropped

    def running_ids(self) -> list[int]:
        """Executions handed to this executor that have not ended yet."""
        return self._runs.ids()

    def _track(self, execution_id: int, timeout: float | None, start_in: float = 0.0) -> None:
        self._runs.add(execution_id, timeout, start_in)

    def _untrack(self, execution_id: int) -> None:
        self._runs.discard(execution_id)

    def next_deadline(self) -> float | None:
        """The earliest monotonic timeout deadline of our runs (None when none has one)."""
        return self._runs.earliest()

    def overdue(self) -> list[tuple[int, float]]:
        """(id, timeout) of executions past their timeout, each reported once."""
        return self._runs.overdue()

    def stop_run(self, execution_id: int) -> bool:
        """Stop a run past its timeout for real; False when this executor cannot.

        An async job on the event loop is cancelled (CancelledError at its current await); a
        thread cannot be stopped."""
        return cancel_on_loop(execution_id)

    def warm(self) -> None:  # noqa: B027 - optional hook
        """Called when the scheduler starts running: get ready to run without a delay (a
        process pool spawns its processes). Must not block."""

    def sweep(self, epoch: int) -> None:  # noqa: B027 - optional hook
        """Called by the leader every third of the lease TTL (re-deliver what got lost)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release threads and processes."""


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


def dropped_any(executors: Iterable[Executor]) -> bool:
    """Whether any of `executors` let go of runs without starting them (each one's
    ``dropped_some`` is asked, so each forgets it)."""
    return any([e.dropped_some() for e in executors])  # noqa: C419 - ask every one
