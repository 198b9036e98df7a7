from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from django_schedules.models import Schedule
from django_schedules.triggers import IntervalTrigger

from .helpers import POLL, TTL, clean, scheduler_process, utcnow, wait_for, wait_until_leading

ROWS = 10_000
WINDOW = 4.0  # the minute, scaled: the bound is per poll interval, not per minute


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_idle_scheduler_makes_one_query_per_poll_interval_whatever_the_table_size(
    tmp_path: Path,
) -> None:
    """An idle scheduler's cost does not grow with the number of schedules.

    celery/django-celery-beat#927: beat's change detection reads the schedule table over and
    over, a load that grows with the number of tasks. Here a scheduler holding the lease over
    10,000 schedules (none due) is watched for 4 seconds through Django's SQL log: at most one
    statement per poll interval (one probe: lease, earliest next run, manual runs), plus the
    lease upkeep (a renewal every third of the TTL and a sweep for lost runs every TTL). Every
    statement that reads the schedule table reads one row.

    SQLite's change probe, ``PRAGMA data_version`` every 50 ms, reads a counter of the open
    file and no table; it is counted apart (docs/comparison.md).
    """
    tomorrow = utcnow().replace(microsecond=0) + timedelta(days=1)
    trigger = IntervalTrigger(days=1, start_date=tomorrow).to_dict()
    Schedule.objects.bulk_create(
        (
            Schedule(
                job_id=f"idle-{i:05d}",
                func="scenarios.echo",
                trigger=trigger,
                trigger_kind="interval",
                next_run_at=tomorrow,
            )
            for i in range(ROWS)
        ),
        batch_size=1000,
    )
    log = tmp_path / "queries.log"
    with scheduler_process(SCENARIO_QUERY_LOG=str(log)) as proc:
        wait_until_leading(proc)
        settled = time.time() + 1.0
        wait_for(lambda: time.time() > settled + WINDOW + 0.5, 60, "the window")
        output = proc.output()
    statements = []
    for line in log.read_text().splitlines():
        created, sep, sql = line.partition("|")
        try:
            at = float(created)
        except ValueError:
            continue  # a continuation line of a multi-line statement
        if sep and settled <= at < settled + WINDOW:
            statements.append(sql)
    pragmas = [s for s in statements if "PRAGMA data_version" in s]
    queries = [s for s in statements if "PRAGMA data_version" not in s]
    budget = (WINDOW / POLL + 1) + (WINDOW / (TTL / 3) + 1) + (WINDOW / TTL + 1)
    assert WINDOW / POLL / 2 <= len(queries) <= budget, "\n".join(queries)
    on_schedules = [
        s
        for s in queries
        if 'django_schedules_schedule"' in s
        or "django_schedules_schedule`" in s
        or "django_schedules_schedule " in s
    ]
    assert on_schedules, queries  # the probe does look at the schedules...
    assert all("LIMIT 1" in s for s in on_schedules), on_schedules  # ...one row at a time
    assert len(pragmas) <= WINDOW / 0.05 + 5
    assert clean(output) == []
