"""The fault tests' job: it appends one line per run to a ledger file, outside the database,
so a run that happened twice shows even if the database recorded it once."""

from __future__ import annotations

from django_schedules import job
from django_schedules.registry import JobContext
from tests.ledger import append_line


@job(name="faults.ledger")
def ledger(path: str, context: JobContext) -> None:
    append_line(path, f"{context.execution_id} {context.attempt} {context.fire_time.isoformat()}\n")
