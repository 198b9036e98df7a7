"""The benchmark's job bodies, registered with django-schedules and importable by the peers.

Jobs that measure lateness record into ``STARTS``; they run in the process that measures.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta

from django_schedules import job
from django_schedules.registry import JobContext

LOCK = threading.Lock()
# label -> list of (start - nominal fire time) in seconds, or of start instants
STARTS: dict[str, list[float]] = {}


def record(label: str, value: float) -> None:
    with LOCK:
        STARTS.setdefault(label, []).append(value)


@job(name="bench.noop")
def noop() -> None:
    """An empty job body."""


@job(name="bench.stamp")
def stamp() -> float:
    """Return the instant this first line ran (time.time()): stored as the Execution's result,
    it says when the run really started, once its row is written."""
    return time.time()


@job(name="bench.record_start")
def record_start(label: str, context: JobContext) -> None:
    """Record the instant the job started (time.time()) and its lateness."""
    now = datetime.now(UTC)
    record(label + ":start", time.time())
    record(label, (now - context.fire_time).total_seconds())


def aps_noop() -> None:
    """An empty job body for APScheduler / django-apscheduler."""


def q_noop() -> None:
    """An empty job body for django-q2."""


def aps_lateness(label: str, start: str, period: float) -> None:
    """APScheduler passes no fire time: the nominal one is the nearest multiple of `period`
    after `start` (its jobs here run on an interval trigger starting at `start`)."""
    now = datetime.now(UTC)
    begin = datetime.fromisoformat(start)
    # The latest occurrence at or before now (a millisecond's tolerance for clock reads): a
    # run more than half a period late is not mistaken for an early run of the next one.
    steps = math.floor((now - begin).total_seconds() / period + 0.001 / period)
    record(label, (now - (begin + timedelta(seconds=steps * period))).total_seconds())
    record(label + ":start", time.time())
