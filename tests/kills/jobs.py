"""Jobs of the kill tests, registered by autodiscover in their processes (tests/kills/settings.py
installs this package as an app)."""

from __future__ import annotations

import time

from django_schedules import job
from django_schedules.registry import JobContext


@job(name="kills.hang_first")
def hang_first(seconds: float, context: JobContext) -> str:
    """Hang `seconds` on the first attempt (its worker is killed meanwhile); later attempts,
    the re-runs of a ``rerun_lost`` schedule, return at once."""
    if context.attempt == 1:
        time.sleep(seconds)
    return f"attempt {context.attempt}"


@job(name="kills.chaos")
def chaos(n: int = 0) -> int:
    """The chaos case's job (tests/kills/chaos.py): returns at once."""
    return n


@job(name="kills.note")
def note(path: str, seconds: float, context: JobContext) -> int:
    """Append the execution id to `path` (one line per run started), then take `seconds`."""
    with open(path, "a") as out:
        out.write(f"{context.execution_id}\n")
    time.sleep(seconds)
    return context.attempt
