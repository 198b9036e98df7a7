"""The blocking, background and asyncio schedulers with their real loops."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from django_schedules import store
from django_schedules.exceptions import SchedulerAlreadyRunningError
from django_schedules.models import Execution, SchedulerLease
from django_schedules.schedulers import (
    STATE_PAUSED,
    STATE_RUNNING,
    STATE_STOPPED,
    AsyncIOScheduler,
    BackgroundScheduler,
    BlockingScheduler,
)
from django_schedules.schedulers.events import (
    EVENT_JOB_EXECUTED,
    EVENT_JOB_SUBMITTED,
    EVENT_SCHEDULER_PAUSED,
    EVENT_SCHEDULER_RESUMED,
    EVENT_SCHEDULER_SHUTDOWN,
    EVENT_SCHEDULER_STARTED,
)
from tests.polling import wait_until
from tests.schedulers import jobs
from tests.schedulers.conftest import results, wait_for_results

pytestmark = pytest.mark.django_db(transaction=True)


def lease_free() -> bool:
    try:
        lease = SchedulerLease.objects.filter(group="default").first()
        return lease is None or lease.owner == ""
    finally:
        connections.close_all()


def thread_of(result: str) -> int:
    return int(result.strip("'").rsplit("@", 1)[1])


def test_the_blocking_scheduler_runs_in_the_calling_thread_until_shutdown(fast) -> None:
    scheduler = BlockingScheduler(**fast)
    scheduler.add_job(jobs.where, "date", run_date=datetime.now(UTC), args=["once"])
    events: list[int] = []
    scheduler.add_listener(lambda event: events.append(event.code))
    failures: list[BaseException] = []

    def run() -> None:
        try:
            scheduler.start()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connections.close_all()

    loop = threading.Thread(target=run)
    loop.start()
    try:
        (result,) = wait_for_results(1)
        assert result.startswith("'once@")
        assert scheduler.state == STATE_RUNNING and loop.is_alive()
        with pytest.raises(SchedulerAlreadyRunningError):
            scheduler.start()
    finally:
        scheduler.shutdown()
    loop.join(timeout=60)
    assert not loop.is_alive() and failures == []
    assert scheduler.state == STATE_STOPPED
    assert lease_free()  # released, so a standby takes over at once
    assert EVENT_SCHEDULER_STARTED in events and events[-1] == EVENT_SCHEDULER_SHUTDOWN
    assert EVENT_JOB_SUBMITTED in events and EVENT_JOB_EXECUTED in events


def test_the_blocking_scheduler_pauses_and_resumes_in_its_thread(fast) -> None:
    scheduler = BlockingScheduler(**fast)
    loop = threading.Thread(target=lambda: (scheduler.start(), connections.close_all()))
    loop.start()
    try:
        wait_until(lambda: not lease_free(), timeout=60, message="the lease taken")
        scheduler.pause()
        assert scheduler.state == STATE_PAUSED and lease_free() and loop.is_alive()
        scheduler.add_job(jobs.where, "date", run_date=datetime.now(UTC), args=["after"])
        scheduler.resume()
        (result,) = wait_for_results(1)
        assert result.startswith("'after@")
    finally:
        scheduler.shutdown()
        loop.join(timeout=60)
    assert not loop.is_alive()


def test_the_background_scheduler_fires_pauses_resumes_and_shuts_down(fast) -> None:
    scheduler = BackgroundScheduler(**fast)
    events: list[int] = []
    scheduler.add_listener(
        lambda event: events.append(event.code), EVENT_SCHEDULER_PAUSED | EVENT_SCHEDULER_RESUMED
    )
    scheduler.start()
    try:
        scheduler.add_job(jobs.where, "date", run_date=datetime.now(UTC), args=["first"])
        (first,) = wait_for_results(1)
        assert thread_of(first) != threading.get_ident()  # a pool thread, not the caller
        scheduler.pause()
        assert scheduler.state == STATE_PAUSED and lease_free()
        # Paused: another process can lead the group meanwhile.
        assert store.take_lease("default", "other", timedelta(seconds=0.5), "default") is not None
        scheduler.add_job(jobs.where, "date", run_date=datetime.now(UTC), args=["second"])
        scheduler.resume()
        assert [r.split("@")[0] for r in wait_for_results(2, timeout=90)] == ["'first", "'second"]
    finally:
        scheduler.shutdown()
    assert events == [EVENT_SCHEDULER_PAUSED, EVENT_SCHEDULER_RESUMED]
    assert not scheduler.running and lease_free()
    scheduler.start()  # a stopped scheduler starts again
    scheduler.shutdown(wait=False)
    wait_until(lease_free, timeout=60, message="the lease released")


def test_the_asyncio_scheduler_runs_async_jobs_on_its_event_loop(fast) -> None:
    scheduler = AsyncIOScheduler(**fast)
    scheduler.add_job(jobs.async_where, "date", run_date=datetime.now(UTC), args=["async"])
    scheduler.add_job(jobs.where, "date", run_date=datetime.now(UTC), args=["sync"])

    async def main() -> int:
        scheduler.start()  # as in APScheduler: a plain call inside the running loop
        found = await asyncio.to_thread(wait_for_results, 2)
        scheduler.shutdown()  # on the loop's thread: does not block the loop
        await scheduler.wait_stopped()
        assert found
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    by_tag = {r.strip("'").split("@")[0]: thread_of(r) for r in results()}
    assert by_tag["async"] == loop_thread
    assert by_tag["sync"] != loop_thread
    assert not scheduler.running and lease_free()


def test_the_asyncio_scheduler_started_before_its_loop_runs(fast) -> None:
    loop = asyncio.new_event_loop()
    try:
        scheduler = AsyncIOScheduler(event_loop=loop, **fast)
        scheduler.add_job(jobs.async_where, "date", run_date=datetime.now(UTC), args=["later"])
        scheduler.start()  # APScheduler's example: start, then run the loop

        async def until_done() -> None:
            await asyncio.to_thread(wait_for_results, 1)

        loop.run_until_complete(until_done())
        scheduler.shutdown()  # not on the loop's thread while it runs: waits
    finally:
        loop.close()
    assert Execution.objects.get().status == "succeeded" and lease_free()
