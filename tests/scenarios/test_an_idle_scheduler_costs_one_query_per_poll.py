from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from django_schedules.models import Schedule
from django_schedules.triggers import IntervalTrigger

from .helpers import POLL, TTL, clean, scheduler_process, utcnow, wait_for, wait_until_leading

ROWS = 10_000
WINDOW = 3.0  # the minute, scaled: the bound is per poll interval, not per minute
# What opening a connection sends (Django's mysql backend sets the isolation level), and
# transaction control: neither is a query.
NOT_QUERIES = (
    "SET SESSION TRANSACTION ISOLATION LEVEL",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE SAVEPOINT",
)


def watch_idle_scheduler(tmp_path: Path) -> list[str]:
    """Run a scheduler over 10,000 schedules (none due) and return what it sent to the
    database during WINDOW seconds once it leads: SQL statements, and ``CONNECT <alias>``
    for each new connection (tests/scenarios/settings.py logs both)."""
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
        assert clean(proc.output()) == []
    statements = []
    for line in log.read_text().splitlines():
        created, sep, sql = line.partition("|")
        try:
            at = float(created)
        except ValueError:
            continue  # a continuation line of a multi-line statement
        if sep and settled <= at < settled + WINDOW:
            statements.append(sql)
    return statements


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_idle_scheduler_makes_one_query_per_poll_interval_whatever_the_table_size(
    tmp_path: Path,
) -> None:
    """An idle scheduler's queries do not grow with the number of schedules.

    celery/django-celery-beat#927: beat's change detection reads the schedule table over and
    over, a load that grows with the number of tasks. Here a scheduler holding the lease over
    10,000 schedules (none due) is watched for 3 seconds (the issue's minute, scaled) through
    Django's SQL log: at most one query per poll interval (one probe: lease, earliest next
    run, manual runs), plus the lease upkeep (the lease renewal and the process heartbeat
    every third of the TTL, a sweep for lost runs and for dead processes' rows every TTL).
    Every query that reads the schedule table reads one row. Transaction control (BEGIN,
    COMMIT) is not a query.

    Counted apart: SQLite's change probe, ``PRAGMA data_version`` every 50 ms, which reads a
    counter of the open file and no table (docs/comparison.md), and opening connections
    (the next test).
    """
    statements = watch_idle_scheduler(tmp_path)
    pragmas = [s for s in statements if "PRAGMA data_version" in s]
    queries = [
        s
        for s in statements
        if "PRAGMA data_version" not in s
        and not s.startswith("CONNECT")
        and not s.split(") ", 1)[-1].startswith(NOT_QUERIES)
    ]
    probes = WINDOW / POLL + 1
    every_third_of_ttl = WINDOW / (TTL / 3) + 1  # lease renewal; process heartbeat
    every_ttl = WINDOW / TTL + 1  # sweep for lost runs; delete dead processes' rows
    budget = probes + 2 * every_third_of_ttl + 2 * every_ttl
    assert WINDOW / POLL / 2 <= len(queries) <= budget, "\n".join(queries)
    on_schedules = [
        s for s in queries if any(f"django_schedules_schedule{q}" in s for q in ('"', "`", " "))
    ]
    assert on_schedules, queries  # the probe does look at the schedules...
    assert all("LIMIT 1" in s for s in on_schedules), on_schedules  # ...one row at a time
    assert len(pragmas) <= WINDOW / 0.05 + 5


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_idle_scheduler_keeps_its_database_connection(tmp_path: Path) -> None:
    """An idle scheduler does not reconnect to the database on every poll.

    celery/django-celery-beat#927 (the cost of change detection), continued: a connection
    costs far more than the one-row probe (PostgreSQL forks a backend for each), so the loop
    keeps its connection across ticks, whatever CONN_MAX_AGE says (Django's default, 0, would
    close it after each tick). At most one new connection in the 3-second window.
    """
    statements = watch_idle_scheduler(tmp_path)
    connects = [s for s in statements if s.startswith("CONNECT")]
    assert len(connects) <= 1, f"{len(connects)} new connections in {WINDOW} s"
