"""Lateness of a 1-second interval schedule: job start minus scheduled fire time.

Runs django-schedules (thread pool, BackgroundScheduler, with and without claiming ahead) and
APScheduler 3 with its in-memory store side by side in the same run, on the database named by
DATABASE_URL (a throwaway test database is created and dropped), and prints p50/p99/max.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        DJANGO_SETTINGS_MODULE=tests.settings PYTHONPATH=. python benchmarks/lateness.py --fires 60
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("SCHEDULES_TEST_DB_SUFFIX", "_bench")

import django

django.setup()

from django.db import connection, connections  # noqa: E402

from django_schedules import job  # noqa: E402
from django_schedules.executors import ThreadPoolExecutor  # noqa: E402
from django_schedules.models import Schedule  # noqa: E402
from django_schedules.registry import JobContext  # noqa: E402
from django_schedules.scheduler import BackgroundScheduler  # noqa: E402
from django_schedules.triggers import IntervalTrigger  # noqa: E402

SAMPLES: dict[str, list[float]] = {}
LOCK = threading.Lock()


@job(name="bench.lateness")
def lateness(label: str, context: JobContext) -> None:
    started = datetime.now(UTC)
    with LOCK:
        SAMPLES.setdefault(label, []).append((started - context.fire_time).total_seconds())


def apscheduler_job(start: datetime) -> None:
    now = datetime.now(UTC)
    nominal = start + timedelta(seconds=round((now - start).total_seconds()))
    with LOCK:
        SAMPLES.setdefault("APScheduler 3 (memory)", []).append((now - nominal).total_seconds())


def summary(label: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return f"{label:38} no samples"
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return (
        f"{label:38} n={len(ms):3}  p50={statistics.median(ms):7.3f} ms  "
        f"p99={p99:7.3f} ms  max={ms[-1]:7.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fires", type=int, default=60, help="fires per scheduler (default 60)")
    options = parser.parse_args()

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from apscheduler.schedulers.background import BackgroundScheduler as APS

        # One mode at a time: a second loop on the same table would compete for the same rows.
        for lookahead, label in (
            (0.1, "django-schedules, claim ahead 100 ms"),
            (0.0, "django-schedules, claim at fire time"),
        ):
            Schedule.objects.all().delete()
            start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
            Schedule.objects.create(
                job_id="bench",
                func="bench.lateness",
                kwargs={"label": label},
                trigger=IntervalTrigger(seconds=1, start_date=start).to_dict(),
                trigger_kind="interval",
                next_run_at=start,
            )
            run = BackgroundScheduler(
                lookahead=lookahead,
                executors={"default": ThreadPoolExecutor("default", {}, using="default")},
            )
            aps = APS(timezone="UTC")
            aps.add_job(apscheduler_job, "interval", seconds=1, start_date=start, args=[start])
            run.start()
            aps.start()
            deadline = start + timedelta(seconds=options.fires + 0.5)
            while datetime.now(UTC) < deadline:
                time.sleep(0.2)
            aps.shutdown()
            run.shutdown()
        print(f"{connection.vendor}, {options.fires} fires of a 1-second interval schedule")
        for label in sorted(SAMPLES):
            print(summary(label, SAMPLES[label]))
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
