"""Buffered runs in the store: released one at a time, oldest first, exactly once however many
finishers and leaders try at once; the leader's backstop releases a stranded one; removing
the schedule skips them."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from django_schedules import api, store
from django_schedules.models import Execution, ExecutionStatus

from .test_batched_lifecycle import at, execution, schedule

pytestmark = pytest.mark.django_db(transaction=True)
RUNNING, BUFFERED, PENDING = ExecutionStatus.RUNNING, ExecutionStatus.BUFFERED, "pending"


def status_by_minute(parent) -> list[tuple[int, str]]:
    rows = Execution.objects.filter(schedule=parent).order_by("fire_time")
    return [(round((e.fire_time - rows[0].fire_time).total_seconds() / 60), e.status) for e in rows]


def test_the_oldest_buffered_run_is_released_once_the_running_one_ends() -> None:
    parent = schedule(overlap="buffer_all")
    running = execution(parent, 0, status=RUNNING)
    for minute in (3, 1, 2):  # inserted out of order: released by fire time
        execution(parent, minute, status=BUFFERED)
    assert store.release_buffered(running.pk, at(5), "default") is None  # still running
    Execution.objects.filter(pk=running.pk).update(status="succeeded")
    released = store.release_buffered(running.pk, at(5), "default")
    assert status_by_minute(parent) == [
        (0, "succeeded"),
        (1, PENDING),
        (2, BUFFERED),
        (3, BUFFERED),
    ]
    row = Execution.objects.get(pk=released)
    assert (row.epoch, row.run_at) == (None, at(5))  # unstamped: the leader adopts it
    # A second call while the released one is pending releases nothing more.
    assert store.release_buffered(running.pk, at(6), "default") is None
    assert Execution.objects.filter(schedule=parent, status=BUFFERED).count() == 2


def test_racing_finishers_and_leaders_release_exactly_one_run() -> None:
    # Six callers at once, as finishers of several processes and the leader's backstop: one
    # buffered run becomes pending, never two.
    parent = schedule(overlap="buffer_all")
    ended = execution(parent, 0, status="succeeded")
    for minute in range(1, 5):
        execution(parent, minute, status=BUFFERED)
    won: list[object] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def release(backstop: bool) -> None:
        try:
            barrier.wait(timeout=60)
            if backstop:
                got, _ = store.release_stranded(at(5), 100, "default")
            else:
                one = store.release_buffered(ended.pk, at(5), "default")
                got = [] if one is None else [one]
            with lock:
                won.extend(got)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=release, args=(i % 2 == 0,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert status_by_minute(parent)[1] == (1, PENDING)
    assert Execution.objects.filter(schedule=parent, status=PENDING).count() == 1


def test_the_backstop_releases_only_schedules_with_no_run_going() -> None:
    stranded, busy = (
        schedule("stranded", overlap="buffer_one"),
        schedule("busy", overlap="buffer_one"),
    )
    waiting = execution(stranded, 1, status=BUFFERED)
    execution(busy, 0, status=RUNNING)
    execution(busy, 1, status=BUFFERED)
    assert store.release_stranded(at(5), 100, "default") == ([waiting.pk], True)
    assert Execution.objects.get(pk=waiting.pk).status == PENDING
    assert Execution.objects.filter(schedule=busy, status=BUFFERED).count() == 1


def test_removing_the_schedule_skips_its_buffered_runs() -> None:
    parent = schedule("gone", overlap="buffer_all")
    execution(parent, 0, status=RUNNING)
    buffered = execution(parent, 1, status=BUFFERED)
    api.remove_job("gone")
    row = Execution.objects.get(pk=buffered.pk)
    assert row.status == "skipped" and row.finished_at is not None
    assert store.release_stranded(at(5), 100, "default") == ([], False)


def test_the_backstop_says_whether_buffered_runs_still_wait() -> None:
    # The leader keeps looking each heartbeat round while it says so, and stops when not.
    parent = schedule("busy", overlap="buffer_one")
    execution(parent, 0, status=RUNNING)
    execution(parent, 1, status=BUFFERED)
    assert store.release_stranded(at(5), 100, "default") == ([], True)
