"""The loop wakes early when a schedule changes, and runs in a thread or beside asyncio."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from django_schedules import store
from django_schedules.executors import InlineExecutor
from django_schedules.models import Execution, Schedule
from django_schedules.scheduler import AsyncIOScheduler, BackgroundScheduler
from tests.polling import seconds_until

from .conftest import interval_schedule

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout: float = 30.0) -> float:
    return seconds_until(predicate, timeout=timeout, interval=0.005)


def background(poll_interval: float) -> BackgroundScheduler:
    return BackgroundScheduler(
        executors={"default": InlineExecutor("default", {}, using="default")},
        poll_interval=poll_interval,
        shutdown_grace=5,
    )


def test_the_background_scheduler_fires_and_shuts_down_cleanly() -> None:
    interval_schedule("job", 3600, next_run_at=datetime.now(UTC))
    bg = background(0.1)
    bg.start()
    try:
        wait_for(lambda: Execution.objects.filter(status="succeeded").exists())
    finally:
        bg.shutdown()
    assert not bg.running
    assert store.take_lease("default", "next", timedelta(seconds=5), "default") == 2


@pytest.mark.skipif("connection.vendor == 'mysql'", reason="MariaDB has no change feed: polls")
def test_a_change_wakes_the_sleeping_loop_long_before_its_poll_interval() -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    schedule = interval_schedule("job", 3600, next_run_at=later)
    bg = background(poll_interval=60)
    bg.start()
    try:
        # Wait until the loop sleeps with its change probe armed.
        wait_for(lambda: getattr(bg.scheduler._waker, "armed", False))
        with transaction.atomic():
            Schedule.objects.filter(pk=schedule.pk).update(next_run_at=datetime.now(UTC))
            store.notify_change()
        changed = time.monotonic()
        wait_for(lambda: Execution.objects.exists(), timeout=10)
        took = time.monotonic() - changed
    finally:
        bg.shutdown()
    target = 0.1 if connection.vendor == "postgresql" else 0.5
    assert took < target * 5, took  # generous: a loaded machine must not fail this


def test_the_asyncio_scheduler_runs_beside_an_event_loop() -> None:
    interval_schedule("job", 3600, next_run_at=datetime.now(UTC))
    aio = AsyncIOScheduler(
        executors={"default": InlineExecutor("default", {}, using="default")},
        poll_interval=0.1,
    )

    async def main() -> None:
        await aio.start()
        for _ in range(3000):
            if await asyncio.to_thread(_succeeded):
                break
            await asyncio.sleep(0.01)
        await aio.shutdown()

    asyncio.run(main())
    assert Execution.objects.get().status == "succeeded"


def _succeeded() -> bool:
    from django.db import connections

    try:
        return Execution.objects.filter(status="succeeded").exists()
    finally:
        connections.close_all()


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="LISTEN is PostgreSQL's")
def test_with_listen_the_idle_loop_probes_at_its_upkeep_cadence_not_every_poll() -> None:
    interval_schedule("job", 3600, next_run_at=datetime.now(UTC) + timedelta(hours=1))
    bg = BackgroundScheduler(
        executors={"default": InlineExecutor("default", {}, using="default")},
        poll_interval=0.05,
        lease_ttl=30,  # upkeep every 10 s
    )
    ticks: list[float] = []
    tick = bg.scheduler.tick

    def counted() -> float:
        ticks.append(time.monotonic())
        return tick()

    bg.scheduler.tick = counted  # type: ignore[method-assign]
    bg.start()
    try:
        wait_for(lambda: getattr(bg.scheduler._waker, "notifies", False))
        seen = len(ticks)
        time.sleep(1.0)  # measuring an idle second: polling would tick about 20 times
        assert len(ticks) - seen <= 2, len(ticks) - seen
    finally:
        bg.shutdown()
