"""GroupCommit: the thread pool's row writes on SQLite, many threads' writes in one transaction
(benchmarks/race.py shows why: one commit per start and finish falls behind)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from django_schedules.executors import GroupCommit
from django_schedules.models import Schedule
from tests.polling import wait_until

from .conftest import interval_schedule

pytestmark = pytest.mark.django_db(transaction=True)


def rename(job_id: str, name: str) -> int:
    return Schedule.objects.filter(job_id=job_id).update(name=name)


def test_writes_waiting_together_commit_in_one_transaction_each_with_its_own_outcome(
    monkeypatch,
) -> None:
    for job_id in ("a", "b", "c"):
        interval_schedule(job_id)
    commit = GroupCommit("default", name="test-commit")
    batches: list[int] = []
    original = GroupCommit._commit

    def counting(self, batch):
        batches.append(len(batch))
        original(self, batch)

    monkeypatch.setattr(GroupCommit, "_commit", counting)
    hold, held = threading.Event(), threading.Event()

    def first() -> int:
        held.set()
        hold.wait(30)  # the writer is busy: the next writes queue up behind this one
        return rename("a", "first")

    def failing() -> int:
        rename("b", "undone")
        raise ValueError("this write fails")

    results: dict[str, object] = {}

    def call(key: str, write) -> None:
        try:
            results[key] = commit.write(write)
        except ValueError as exc:
            results[key] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call, args=("first", first))]
    threads[0].start()
    assert held.wait(30)
    for key, write in (("fails", failing), ("c", lambda: rename("c", "third"))):
        thread = threading.Thread(target=call, args=(key, write))
        thread.start()
        threads.append(thread)
    wait_until(  # both queued behind the first
        lambda: len(batches) >= 1 and commit._queue.qsize() >= 2,
        timeout=30,
        interval=0.01,
        message="the writes to queue up",
    )
    hold.set()
    for thread in threads:
        thread.join(30)
    commit.close()
    assert batches == [1, 2]  # the two that waited went in one transaction
    assert results["first"] == 1 and results["c"] == 1
    assert isinstance(results["fails"], ValueError)
    names = dict(Schedule.objects.values_list("job_id", "name"))
    # The failing write's update is rolled back with its savepoint, not its neighbour's.
    assert names == {"a": "first", "b": "", "c": "third"}


def test_after_close_a_write_runs_in_the_callers_thread() -> None:
    interval_schedule("a")
    commit = GroupCommit("default", name="test-commit")
    assert commit.write(lambda: rename("a", "queued")) == 1
    commit.close()
    seen: list[str] = []

    def write() -> int:
        seen.append(threading.current_thread().name)
        return rename("a", "direct")

    assert commit.write(write) == 1
    assert seen == [threading.current_thread().name]
    assert Schedule.objects.get().name == "direct"
