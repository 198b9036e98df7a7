"""A run limit (``max_runs``) is enforced where runs start, in the start's transaction: the
(N+1)th run never starts, even one claimed ahead, whatever the executor (the thread pool's
batch start, and the one-run start of the process pool's and the tasks' workers, are the same
``store.start_executions``)."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from django_schedules import store
from django_schedules.models import Execution, ExecutionKind, ExecutionStatus, Schedule
from django_schedules.store import Start

from .test_batched_lifecycle import WORKER, at, execution, schedule

pytestmark = pytest.mark.django_db(transaction=True)

REASON = "run limit reached: max_runs=2 runs started"


@pytest.fixture(params=["vendor", "generic"])
def dialect(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "generic":
        from django_schedules.store import dialects, executions

        monkeypatch.setattr(executions, "dialect_for", lambda using: dialects.Dialect())
    return str(request.param)


@pytest.mark.usefixtures("dialect")
def test_a_batch_starts_up_to_the_limit_and_skips_the_rest() -> None:
    parent = schedule(max_runs=2)
    rows = [execution(parent, minute) for minute in range(3)]  # the third claimed ahead
    won = store.start_executions([Start(e.pk, 7, at(1)) for e in rows], WORKER, "default")
    assert len(won) == 2
    (refused,) = Execution.objects.exclude(pk__in=won)
    assert (refused.status, refused.reason, refused.started_at) == ("skipped", REASON, None)
    assert sorted(Execution.objects.filter(pk__in=won).values_list("run_number", flat=True)) == [
        1,
        2,
    ]
    parent.refresh_from_db()
    assert (parent.runs_started, parent.enabled, parent.pause_reason) == (2, False, REASON)


@pytest.mark.usefixtures("dialect")
def test_a_start_tried_again_after_a_lost_reply_is_not_counted_twice() -> None:
    parent = schedule(max_runs=2)
    first, second = execution(parent, 0), execution(parent, 1)
    won = store.start_executions([Start(first.pk, 7, at(1))], WORKER, "default")
    again = store.start_executions([Start(first.pk, 7, at(1))], WORKER, "default")
    assert set(won) == set(again) == {first.pk}
    parent.refresh_from_db()
    assert (parent.runs_started, parent.enabled) == (1, True)
    assert set(store.start_executions([Start(second.pk, 7, at(2))], WORKER, "default")) == {
        second.pk
    }
    parent.refresh_from_db()
    assert (parent.runs_started, parent.enabled) == (2, False)


def test_a_manual_run_is_neither_counted_nor_refused() -> None:
    parent = schedule(max_runs=1, runs_started=1, enabled=False)
    manual = execution(parent, 0, kind=ExecutionKind.MANUAL, epoch=None)
    won = store.start_executions([Start(manual.pk, None, at(1))], WORKER, "default")
    assert set(won) == {manual.pk}
    parent.refresh_from_db()
    assert parent.runs_started == 1
    assert Execution.objects.get(pk=manual.pk).run_number is None


def test_a_schedule_without_a_limit_counts_nothing() -> None:
    parent = schedule()
    rows = [execution(parent, minute) for minute in range(3)]
    won = store.start_executions([Start(e.pk, 7, at(1)) for e in rows], WORKER, "default")
    assert len(won) == 3
    assert Schedule.objects.get(pk=parent.pk).runs_started == 0


def test_racing_workers_start_no_more_runs_than_the_limit() -> None:
    # Eight workers each start their own run of a schedule limited to three, at once (the
    # process pool's or the tasks' workers: one start each).
    parent = schedule(max_runs=3)
    ids = [execution(parent, minute).pk for minute in range(8)]
    won: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(ids))

    def start(pk: int) -> None:
        try:
            barrier.wait(timeout=60)
            got = store.start_executions([Start(pk, 7, at(1))], f"host:{pk}:w", "default")
            with lock:
                won.extend(got)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=start, args=(pk,)) for pk in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 3
    statuses = sorted(Execution.objects.values_list("status", flat=True))
    assert statuses == [ExecutionStatus.RUNNING] * 3 + [ExecutionStatus.SKIPPED] * 5
    parent.refresh_from_db()
    assert (parent.runs_started, parent.enabled) == (3, False)
    numbers = sorted(Execution.objects.filter(pk__in=won).values_list("run_number", flat=True))
    assert numbers == [1, 2, 3]
