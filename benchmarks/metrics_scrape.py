"""The metrics/ scrape at scale: 100,000 schedules, each with a little history.

    .venv/bin/python benchmarks/metrics_scrape.py                            # PostgreSQL, full size
    .venv/bin/python benchmarks/metrics_scrape.py --database sqlite          # or mariadb
    .venv/bin/python benchmarks/metrics_scrape.py --schedules 2000 --executions 20000   # quick

It drops and creates its own database (``bench_metrics`` on PostgreSQL 127.0.0.1:5432 and
MariaDB 127.0.0.1:3306, ``benchmarks/results/metrics.sqlite3`` for SQLite), migrates, seeds
the schedules and executions as ``benchmarks/scale.py`` does (its seeding, reused), adds a
counter row per series, then times ``GET /schedules/metrics/`` with Django's test client and
a bearer token: the queries it ran, the bytes, and each request's time against the 2 s target
of issue 19. Needs ``prometheus-client`` (``django-schedules[prometheus]``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import scale  # noqa: E402 - the path above first

TARGET_S = 2.0
TOKEN = "benchmarks-only-metrics-token"  # noqa: S105 - never deployed
scale.DATABASE_NAME = "bench_metrics"
_scale_database_settings = scale.database_settings


def database_settings(vendor: str) -> dict[str, Any]:
    settings = _scale_database_settings(vendor)
    if vendor == "sqlite":  # its own file, never scale.py's
        settings["NAME"] = str(scale.RESULTS / "metrics.sqlite3")
    return settings


def recreate_database(vendor: str) -> None:
    if vendor != "sqlite":
        scale.recreate_database(vendor)
        return
    scale.RESULTS.mkdir(exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{scale.RESULTS / 'metrics.sqlite3'}{suffix}").unlink(missing_ok=True)


def seed_executions(n: int, now: Any) -> None:
    """`n` finished executions spread over the schedules, newest last (bulk_create), a
    mix of statuses, so the last-outcome and last-success subqueries have rows to walk."""
    from datetime import timedelta

    from django.db import transaction

    from django_schedules.models import Execution, ExecutionStatus, Schedule

    schedules = list(Schedule.objects.order_by("pk").values_list("pk", "job_id"))
    statuses = [ExecutionStatus.SUCCEEDED] * 8 + [ExecutionStatus.FAILED, ExecutionStatus.MISSED]
    rounds = -(-n // max(len(schedules), 1))
    done = 0
    with transaction.atomic():
        for r in range(rounds):
            batch = []
            for i, (pk, job_id) in enumerate(schedules[: n - done]):
                fire = now - timedelta(hours=rounds - r, seconds=i % 3600)
                batch.append(
                    Execution(
                        schedule_id=pk,
                        job_id=job_id,
                        func="bench.noop",
                        fire_time=fire,
                        started_at=fire,
                        finished_at=fire + timedelta(seconds=1),
                        duration=timedelta(seconds=1),
                        status=statuses[(i + r) % len(statuses)],
                    )
                )
            Execution.objects.bulk_create(batch, batch_size=2000)
            done += len(batch)
            scale.say(f"    Execution: {done:,}/{n:,}")


def seed(options: argparse.Namespace) -> None:
    from datetime import UTC, datetime

    from django.core.management import call_command

    from django_schedules.models import ExecutionStatus
    from django_schedules.store.metrics import DURATION, LATENESS, Tally, add_counts

    scale.say(f"  creating {scale.DATABASE_NAME} on {options.database} and migrating")
    recreate_database(options.database)
    call_command("migrate", verbosity=0)
    now = datetime.now(UTC)
    began = time.perf_counter()
    scale.seed_schedules(options.schedules, now)
    seed_executions(options.executions, now)
    # Every counter series present, as after a while of running.
    tally = Tally()
    for i, status in enumerate(sorted(s.value for s in ExecutionStatus)):
        tally.run(status, 1000 * (i + 1))
    for i in range(200):
        tally.observe(DURATION, i / 10).observe(LATENESS, i / 1000)
    add_counts(tally, "default")
    scale.say("  analyze")
    scale.analyze()
    scale.say(f"  seeded in {time.perf_counter() - began:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--database", choices=["postgresql", "sqlite", "mariadb"], default="postgresql"
    )
    parser.add_argument("--schedules", type=int, default=100_000)
    parser.add_argument("--executions", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed scrapes")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database")
    options = parser.parse_args()
    scale.database_settings = database_settings  # type: ignore[assignment]
    scale.configure(options.database)
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    settings.SCHEDULES_METRICS_TOKEN = TOKEN
    scale.say(f"metrics scrape: {options.schedules:,} schedules, {options.executions:,} executions")
    if not options.reuse:
        seed(options)
    load_before = os.getloadavg()[0]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    queries: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    connection.ensure_connection()
    with connection.execute_wrapper(count):
        response = client.get("/schedules/metrics/")
    assert response.status_code == 200, response.content[:500]
    size = len(response.content)
    series = sum(1 for line in response.content.splitlines() if not line.startswith(b"#"))
    times = []
    for _ in range(options.repeat):
        began = time.perf_counter()
        response = client.get("/schedules/metrics/")
        times.append(time.perf_counter() - began)
        assert response.status_code == 200
    worst = max(times)
    print(
        f"\n{options.schedules:,} schedules, {options.executions:,} executions on "
        f"{connection.vendor}: {len(queries)} queries, {series:,} series, {size / 1e6:.1f} MB; "
        f"scrape median {statistics.median(times):.2f} s, worst {worst:.2f} s over "
        f"{options.repeat} (target {TARGET_S:.0f} s: {'met' if worst < TARGET_S else 'MISSED'}); "
        f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"({os.cpu_count()} CPUs, shared)"
    )


if __name__ == "__main__":
    main()
