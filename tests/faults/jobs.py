"""The fault tests' job: it appends one line per run to a ledger file, outside the database,
so a run that happened twice shows even if the database recorded it once."""

from __future__ import annotations

import os

from django_schedules import job
from django_schedules.registry import JobContext


@job(name="faults.ledger")
def ledger(path: str, context: JobContext) -> None:
    line = f"{context.execution_id} {context.attempt} {context.fire_time.isoformat()}\n"
    # O_APPEND: each short write lands whole, whichever thread or process writes it.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
