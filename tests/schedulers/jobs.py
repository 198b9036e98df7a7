"""Jobs for the scheduler objects' tests, registered when the tests import this module."""

from __future__ import annotations

import os
import threading
import time

from django_schedules import job
from django_schedules.registry import JobContext


@job(name="objects.where")
def where(tag: str = "", sleep: float = 0.0) -> str:
    """Return the tag and the id of the thread the job ran in (after `sleep` seconds)."""
    time.sleep(sleep)
    return f"{tag}@{threading.get_ident()}"


@job(name="objects.async_where")
async def async_where(tag: str = "") -> str:
    """An async job: it runs on the scheduler object's event loop."""
    return f"{tag}@{threading.get_ident()}"


def not_registered(text: str = "") -> None:
    """Never decorated: scheduling it must say what to add."""


@job(name="objects.stamp")
def stamp(path: str, context: JobContext) -> None:
    """Append this run's fire time and process id to the file at `path` (one write)."""
    with open(path, "a") as out:
        out.write(f"{context.fire_time.isoformat()} {os.getpid()}\n")
