"""The counters through the real thread pool (its finisher thread's batches; a group commit
on SQLite) and a timeout marked by the upkeep: each finish counted once, in the database."""

from __future__ import annotations

import time

import pytest

from django_schedules.clock import ManualClock
from django_schedules.executors import ThreadPoolExecutor
from django_schedules.models import Execution, ExecutionStatus, MetricCounter
from tests.engine import jobs
from tests.engine.conftest import interval_schedule, make_scheduler
from tests.polling import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def counted(metric: str, label: str) -> float:
    row = MetricCounter.objects.filter(metric=metric, label=label).first()
    return row.value if row else 0.0


def test_the_thread_pools_finishes_are_counted_once_each(clock: ManualClock) -> None:
    for i in range(12):
        interval_schedule(f"job-{i}", 60, kwargs={"tag": str(i)})
    interval_schedule("bad", 60, func="engine.boom")
    executor = ThreadPoolExecutor("default", {"max_workers": 4}, using="default")
    scheduler = make_scheduler(clock, executor)
    try:
        scheduler.tick()
        wait_until(
            lambda: (
                Execution.objects.filter(status="running").count() == 0
                and Execution.objects.count() == 13
            ),
            timeout=30,
            interval=0.02,
        )
        wait_until(lambda: not executor.running_ids(), timeout=30, interval=0.02)
    finally:
        executor.close()
    assert Execution.objects.filter(status=ExecutionStatus.SUCCEEDED).count() == 12
    assert counted("runs", "succeeded") == 12 and counted("runs", "failed") == 1
    buckets = MetricCounter.objects.filter(metric="duration_seconds").exclude(label="sum")
    assert sum(buckets.values_list("value", flat=True)) == 13
    assert counted("claim_batch_size", "sum") == 13


def test_a_run_past_its_timeout_is_counted_failed_once(clock: ManualClock) -> None:
    interval_schedule("job", 60, func="engine.block", timeout=0.1)
    executor = ThreadPoolExecutor("default", {}, using="default")
    scheduler = make_scheduler(clock, executor)
    try:
        scheduler.tick()
        wait_until(lambda: Execution.objects.filter(status="running").exists(), timeout=30)
        time.sleep(0.15)  # past the timeout: the next tick's upkeep notices it
        scheduler.tick()
        assert Execution.objects.get().status == ExecutionStatus.FAILED
        jobs.RELEASE.set()
        wait_until(lambda: not executor.running_ids(), timeout=30, interval=0.02)
    finally:
        executor.close()
    # The late result is dropped, and not counted as a second finish.
    assert counted("runs", "failed") == 1 and counted("runs", "succeeded") == 0
