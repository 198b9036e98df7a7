"""Run by test_gevent.py in a fresh interpreter: the thread-based scheduler under gevent.

Monkey-patching must come first, before Django or anything that imports threading.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import django  # noqa: E402

django.setup()

from datetime import UTC, datetime  # noqa: E402

from django_schedules.models import Execution, Schedule  # noqa: E402
from django_schedules.scheduler import BackgroundScheduler  # noqa: E402
from django_schedules.triggers import IntervalTrigger  # noqa: E402


def main() -> int:
    now = datetime.now(UTC)
    Schedule.objects.create(
        job_id="gevent",
        func="tests.testapp.jobs.add",
        args=[1, 2],
        trigger=IntervalTrigger(seconds=3600, start_date=now).to_dict(),
        trigger_kind="interval",
        next_run_at=now,
    )
    scheduler = BackgroundScheduler(poll_interval=0.1, shutdown_grace=5)
    scheduler.start()
    deadline = time.monotonic() + float(os.environ.get("PROBE_DEADLINE", "30"))
    try:
        while not Execution.objects.filter(status="succeeded").exists():
            if time.monotonic() > deadline:
                return 1
            time.sleep(0.05)
    finally:
        scheduler.shutdown()
    print("result", Execution.objects.get().result)  # noqa: T201
    return 0


sys.exit(main())
