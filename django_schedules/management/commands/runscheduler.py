"""``manage.py runscheduler``: hold the group's lease, fire due schedules, sleep until the next.

Thin: it parses and validates options, wires a ``Scheduler`` and handles signals. SIGTERM or
SIGINT stops claiming and releases the lease at once, lets running jobs finish up to
``SCHEDULES_SHUTDOWN_GRACE`` seconds, records any still running as lost and exits 0; a second
signal exits at once.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import threading
import time
from argparse import ArgumentTypeError
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_schedules import store
from django_schedules.conf import conf
from django_schedules.models import GROUP_RE, GROUP_RULE
from django_schedules.scheduler import AsyncIOScheduler, Scheduler

# A day is longer than any sensible poll interval or lease; far longer ones overflow the
# waits and the lease's expiry date.
MAX_SECONDS = 86_400.0


def positive_seconds(value: str) -> float:
    """Parse a number of seconds: finite, greater than zero, at most a day."""
    try:
        seconds = float(value)
    except ValueError as exc:
        raise ArgumentTypeError(f"must be a number of seconds, got {value!r}") from exc
    if not (math.isfinite(seconds) and seconds > 0):  # this form rejects NaN as well
        raise ArgumentTypeError(f"must be a finite number greater than zero, got {value!r}")
    if seconds > MAX_SECONDS:
        raise ArgumentTypeError(f"must be at most {MAX_SECONDS:g} seconds (a day), got {value!r}")
    return seconds


def group_name(value: str) -> str:
    """Parse --group: 1 to 100 characters among letters, digits, '_', '.', ':' and '-'."""
    if not GROUP_RE.fullmatch(value):
        raise ArgumentTypeError(f"must be {GROUP_RULE}, got {value!r}")
    return value


class Command(BaseCommand):
    help = "Hold the scheduler lease, fire due schedules, and sleep until the next one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--group", type=group_name, default="default", help="Scheduler group (lease name)."
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Fire what is due now, wait for those runs to finish, and exit.",
        )
        parser.add_argument(
            "--poll-interval",
            type=positive_seconds,
            default=None,
            help="Longest sleep between passes, in seconds (default SCHEDULES_POLL_INTERVAL).",
        )
        parser.add_argument(
            "--lease-ttl",
            type=positive_seconds,
            default=None,
            help="Seconds the lease lasts without renewal (default SCHEDULES_LEASE_TTL).",
        )
        parser.add_argument(
            "--asyncio", action="store_true", help="Run the loop beside an asyncio event loop."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from django_schedules.registry import autodiscover

        autodiscover()
        # This process is all the scheduler's: its SQLite connections commit as
        # SCHEDULES_SQLITE_SYNCHRONOUS says (under WAL; docs/guarantees.md). Undone on return
        # (call_command in someone else's process).
        tuned = store.sqlite_synchronous(conf.SCHEDULES_DATABASE, conf.SCHEDULES_SQLITE_SYNCHRONOUS)
        try:
            self._run(options)
        finally:
            tuned()

    def _run(self, options: dict[str, Any]) -> None:
        self._sync_declared_schedules()
        kwargs: dict[str, Any] = {
            "group": options["group"],
            "poll_interval": options["poll_interval"] or conf.SCHEDULES_POLL_INTERVAL,
            "lease_ttl": options["lease_ttl"] or conf.SCHEDULES_LEASE_TTL,
        }
        if options["asyncio"] and not options["once"]:
            aio = AsyncIOScheduler(**kwargs)
            self._install_signals(aio.scheduler)
            self._started(aio.scheduler, options["group"])
            asyncio.run(aio.serve())
        else:
            scheduler = Scheduler(**kwargs)
            self._install_signals(scheduler)
            self._started(scheduler, options["group"])
            scheduler.run(once=options["once"])
        self.stdout.write("scheduler stopped")

    def _sync_declared_schedules(self) -> None:
        """Make the database match SCHEDULES_JOBS before firing anything.

        Several copies may start at once: a copy that loses the race to create a row (an
        IntegrityError on the job id) or to take SQLite's lock simply syncs again, and then
        finds the rows in place.
        """
        from django.db import DatabaseError

        from django_schedules.exceptions import SchedulesError
        from django_schedules.sync import sync_schedules

        for attempt in range(1, 6):
            try:
                plan = sync_schedules()
            except SchedulesError as exc:
                raise CommandError(
                    f"SCHEDULES_JOBS is invalid, nothing was synced or fired: {exc}"
                ) from exc
            except DatabaseError:
                if attempt == 5:
                    raise
                time.sleep(0.05 * attempt)
                continue
            break
        if plan.create or plan.update or plan.disable:
            self.stdout.write(
                f"SCHEDULES_JOBS synced: {len(plan.create)} created, {len(plan.update)} "
                f"updated, {len(plan.disable)} disabled"
            )

    def _started(self, scheduler: Scheduler, group: str) -> None:
        self.stdout.write(f"scheduler {scheduler.owner} started (group {group!r})")

    def _install_signals(self, scheduler: Scheduler) -> None:
        StopOnSignal(scheduler).install()


class StopOnSignal:
    """SIGTERM and SIGINT stop `scheduler`; a second one exits at once.

    The handler only sets a flag and writes a byte to a pipe: a thread reading the pipe calls
    ``scheduler.stop()``. Python runs a handler in the main thread between two bytecodes of
    whatever it was doing, and the main thread sleeps in ``Event.wait``: had the handler called
    ``stop()`` (``Event.set()``) just as that wait re-took the event's lock, it would have
    waited on a lock its own thread holds, for ever (a MariaDB CI run saw a ``runscheduler``
    that never exited after SIGTERM; tests/engine/test_signals.py makes it happen at will).
    """

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.signalled = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)

    def install(self) -> None:
        threading.Thread(target=self._relay, name="schedules-signals", daemon=True).start()
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Nothing here may take a lock: see the class docstring.
        if self.signalled:
            os._exit(1)  # The second signal: leave at once.
        self.signalled = True
        os.write(self._write, b"\0")

    def _relay(self) -> None:
        while os.read(self._read, 1):
            self.scheduler.stop()
