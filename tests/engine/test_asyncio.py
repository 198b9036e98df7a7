"""Under the AsyncIOScheduler, `async def` jobs run on the scheduler's own event loop, sync jobs
in the executor's threads, and a coroutine past its timeout is cancelled."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from django.db import connections

from django_schedules import job
from django_schedules.clock import ManualClock
from django_schedules.executors import InlineExecutor, ThreadPoolExecutor
from django_schedules.models import Execution, ExecutionStatus
from django_schedules.scheduler import AsyncIOScheduler

from .conftest import NOW, interval_schedule, make_scheduler

DEADLINE = 30.0
SEEN: dict[str, tuple[int | None, int]] = {}  # tag -> (id of the running loop, thread ident)
CANCELLED: list[str] = []
SYNC_GO = threading.Event()

pytestmark = pytest.mark.django_db(transaction=True)


@job(name="engine.where_async")
async def where_async(tag: str) -> str:
    SEEN[tag] = (id(asyncio.get_running_loop()), threading.get_ident())
    await asyncio.sleep(0)
    return tag


@job(name="engine.block_sync")
def block_sync() -> str:
    SEEN["sync"] = (None, threading.get_ident())
    SYNC_GO.wait(DEADLINE)
    return "sync"


@job(name="engine.async_forever")
async def async_forever() -> None:
    try:
        await asyncio.sleep(600)
    except asyncio.CancelledError:
        CANCELLED.append("cancelled at its await")
        raise


@pytest.fixture(autouse=True)
def _reset() -> None:
    SEEN.clear()
    CANCELLED.clear()
    SYNC_GO.clear()


def _statuses() -> dict[str, tuple[str, str]]:
    try:
        return {e.job_id: (e.status, e.reason) for e in Execution.objects.all()}
    finally:
        connections.close_all()


async def _until(predicate, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not await predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def _thread_pool_scheduler() -> AsyncIOScheduler:
    return AsyncIOScheduler(
        executors={"default": ThreadPoolExecutor("default", {}, using="default")},
        poll_interval=0.1,
    )


def test_async_jobs_run_on_the_schedulers_loop_and_a_blocked_sync_job_does_not_block_it() -> None:
    now = datetime.now(UTC)
    interval_schedule(
        "async", 3600, func="engine.where_async", kwargs={"tag": "async"}, next_run_at=now
    )
    interval_schedule("sync", 3600, func="engine.block_sync", next_run_at=now)
    aio = _thread_pool_scheduler()
    turns_while_blocked = 0

    async def main() -> tuple[int, int]:
        nonlocal turns_while_blocked
        here = (id(asyncio.get_running_loop()), threading.get_ident())
        serving = asyncio.create_task(aio.serve())

        async def both_started() -> bool:
            return "async" in SEEN and "sync" in SEEN

        await _until(both_started, "both jobs to start")
        # The sync job holds its thread until SYNC_GO: the loop keeps turning meanwhile.
        for _ in range(10):
            await asyncio.sleep(0.01)
            turns_while_blocked += 1
        SYNC_GO.set()

        async def both_succeeded() -> bool:
            done = await asyncio.to_thread(_statuses)
            return [s for s, _ in done.values()] == [ExecutionStatus.SUCCEEDED] * 2

        await _until(both_succeeded, "both runs to succeed")
        await aio.shutdown()
        await serving
        return here

    loop_id, loop_thread = asyncio.run(main())
    assert SEEN["async"] == (loop_id, loop_thread)  # the very loop serve() ran on
    assert SEEN["sync"][1] != loop_thread  # a sync job runs in an executor thread
    assert turns_while_blocked == 10


def test_an_async_job_past_its_timeout_is_cancelled_on_the_loop() -> None:
    interval_schedule(
        "forever", 3600, func="engine.async_forever", timeout=0.3, next_run_at=datetime.now(UTC)
    )
    aio = _thread_pool_scheduler()

    async def main() -> None:
        await aio.start()

        async def timed_out() -> bool:
            done = await asyncio.to_thread(_statuses)
            return done.get("forever", ("", ""))[0] == ExecutionStatus.FAILED and bool(CANCELLED)

        await _until(timed_out, "the run to time out")
        await aio.shutdown()

    asyncio.run(main())
    assert _statuses()["forever"] == (ExecutionStatus.FAILED, "timeout: still running after 0.3s")
    assert CANCELLED == ["cancelled at its await"]


def test_without_an_event_loop_an_async_job_runs_on_a_private_loop_in_its_thread() -> None:
    interval_schedule("async", 3600, func="engine.where_async", kwargs={"tag": "private"})
    make_scheduler(ManualClock(NOW), InlineExecutor("default", {}, using="default")).tick()
    assert Execution.objects.get().status == ExecutionStatus.SUCCEEDED
    assert SEEN["private"][1] == threading.get_ident()
