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


@job(name="kills.ledger")
def ledger(path: str, seconds: float, context: JobContext) -> str:
    """Write a line when the run starts and another when it ends (O_APPEND: one write each, so
    lines of runs in several processes never interleave), sleeping `seconds` between them."""
    import os

    def note(what: str) -> None:
        line = f"{what} {context.execution_id} {context.attempt} {time.time():.6f}\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    note("start")
    time.sleep(seconds)
    note("end")
    return "done"
