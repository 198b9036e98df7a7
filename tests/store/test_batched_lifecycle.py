"""The set-based start and finish of executions (issue 16): one statement for a batch, and
still each row's own compare-and-swap. A batch starts only what is pending at its epoch, and
finishes only what is running at its attempt; a try repeated after a lost reply recognises its
own earlier success and takes nothing else's."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from django_schedules import store
from django_schedules.models import Execution, ExecutionStatus, Schedule
from django_schedules.store import Finish, Start
from django_schedules.triggers import IntervalTrigger

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
WORKER = "host:1:schedules-default"


def schedule(job_id: str = "s", **fields: object) -> Schedule:
    trigger = IntervalTrigger(seconds=60, start_date=NOW)
    return Schedule.objects.create(
        job_id=job_id,
        func="engine.record",
        trigger=trigger.to_dict(),
        trigger_kind="interval",
        next_run_at=NOW,
        **fields,
    )


def execution(parent: Schedule, minute: int, **fields: object) -> Execution:
    values: dict[str, object] = {
        "schedule": parent,
        "job_id": parent.job_id,
        "func": parent.func,
        "kwargs": {"tag": f"m{minute}"},
        "fire_time": NOW + timedelta(minutes=minute),
        "epoch": 7,
        **fields,
    }
    return Execution.objects.create(**values)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


@pytest.fixture(params=["vendor", "generic"])
def dialect(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test of a start runs with the database's own statement and with the generic one
    (the ORM's; old SQLite and other vendors use it)."""
    if request.param == "generic":
        from django_schedules.store import dialects, executions

        monkeypatch.setattr(executions, "dialect_for", lambda using: dialects.Dialect())
    return str(request.param)


@pytest.mark.usefixtures("dialect")
def test_a_batch_starts_only_what_is_pending_at_its_epoch() -> None:
    parent = schedule(max_retries=2, retry_delay=0.5, timeout=9)
    mine = execution(parent, 0)
    other_epoch = execution(parent, 1, epoch=8)  # a newer holder adopted it
    running = execution(parent, 2, status=ExecutionStatus.RUNNING, worker="someone else")
    finished = execution(parent, 3, status=ExecutionStatus.SUCCEEDED)
    manual = execution(parent, 4, epoch=None)  # no epoch asked: any pending row
    starts = [
        Start(mine.pk, 7, at(1)),
        Start(other_epoch.pk, 7, at(2)),
        Start(running.pk, 7, at(3)),
        Start(finished.pk, 7, at(4)),
        Start(manual.pk, None, at(5)),
    ]

    won = store.start_executions(starts, WORKER, "default")

    assert set(won) == {mine.pk, manual.pk}
    spec = won[mine.pk]
    assert (spec.kwargs, spec.attempt, spec.max_retries, spec.retry_delay, spec.timeout) == (
        {"tag": "m0"},
        1,
        2,
        0.5,
        9,
    )
    rows = {e.pk: e for e in Execution.objects.all()}
    assert (rows[mine.pk].status, rows[mine.pk].started_at) == ("running", at(1))
    assert (rows[manual.pk].started_at, rows[manual.pk].worker) == (at(5), WORKER)
    assert rows[other_epoch.pk].status == "pending"
    assert rows[running.pk].worker == "someone else"
    assert rows[finished.pk].status == "succeeded"


@pytest.mark.usefixtures("dialect")
def test_a_repeated_start_recognises_its_own_and_takes_no_one_elses() -> None:
    parent = schedule()
    a, b = execution(parent, 0), execution(parent, 1)
    first = store.start_executions([Start(a.pk, 7, at(1))], WORKER, "default")
    # The reply was lost: the same batch again, plus b, which meanwhile another worker began.
    store.start_executions([Start(b.pk, 7, at(9))], "host:2:other", "default")
    again = store.start_executions(
        [Start(a.pk, 7, at(1)), Start(b.pk, 7, at(2))], WORKER, "default"
    )
    assert set(first) == set(again) == {a.pk}


@pytest.mark.usefixtures("dialect")
def test_racing_batches_start_each_execution_once() -> None:
    parent = schedule()
    ids = [execution(parent, minute).pk for minute in range(40)]
    won: list[set[int]] = []
    lock = threading.Lock()

    def start(worker: str) -> None:
        try:
            got = store.start_executions([Start(pk, 7, at(1)) for pk in ids], worker, "default")
            with lock:
                won.append(set(got))
        finally:
            from django.db import connections

            connections.close_all()

    threads = [threading.Thread(target=start, args=(f"host:{n}:w",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everyone = [pk for got in won for pk in got]
    assert sorted(everyone) == sorted(ids)  # each once, by exactly one worker


def test_a_batch_finishes_only_what_runs_at_its_attempt_and_repeats_harmlessly() -> None:
    parent = schedule()
    ran = execution(parent, 0, status=ExecutionStatus.RUNNING, attempt=1)
    retried = execution(parent, 1, status=ExecutionStatus.RUNNING, attempt=2)
    timed_out = execution(parent, 2, status=ExecutionStatus.FAILED, reason="timeout")
    ends = [
        Finish(ran.pk, 1, "succeeded", at(10), timedelta(seconds=1.25), result="'ok'"),
        Finish(retried.pk, 1, "failed", at(11), timedelta(seconds=2), reason="boom"),
        Finish(timed_out.pk, 1, "succeeded", at(12), timedelta(seconds=3), result="late"),
    ]

    done = store.finish_executions(ends, "default")
    again = store.finish_executions(ends, "default")  # a try whose reply was lost

    assert done == again == {ran.pk}
    rows = {e.pk: e for e in Execution.objects.all()}
    assert (rows[ran.pk].status, rows[ran.pk].result, rows[ran.pk].duration) == (
        "succeeded",
        "'ok'",
        timedelta(seconds=1.25),
    )
    assert rows[ran.pk].finished_at == at(10)
    assert (rows[retried.pk].status, rows[retried.pk].attempt) == ("running", 2)
    assert (rows[timed_out.pk].status, rows[timed_out.pk].result) == ("failed", "")


def test_finish_keeps_text_whole_and_caps_the_reason() -> None:
    parent = schedule()
    row = execution(parent, 0, status=ExecutionStatus.RUNNING)
    trace = "Traceback 'quoted' \"double\" ; DROP TABLE x; -- ünïcode " * 200
    end = Finish(row.pk, 1, "failed", at(1), timedelta(0), reason="r" * 900, traceback=trace)
    assert store.finish_executions([end], "default") == {row.pk}
    row.refresh_from_db()
    assert (row.traceback, row.reason) == (trace, "r" * 500)


def test_a_heartbeat_passes_over_a_row_another_transaction_holds() -> None:
    """The finisher holds the rows it ends until it commits; a heartbeat that waited for one
    could close a cycle with it (each waiting for a row the other locked), which PostgreSQL
    breaks only after deadlock_timeout (1 s): the scheduler loop stood still that second. The
    heartbeat takes what it can lock at once and leaves the held row alone."""
    from django.db import connection, connections, transaction

    if not connection.features.has_select_for_update:
        pytest.skip("SQLite locks the whole file, not rows: one writer at a time")
    parent = schedule()
    rows = [execution(parent, m, status=ExecutionStatus.RUNNING, attempt=1) for m in range(3)]
    held, release, let_go = threading.Event(), threading.Event(), threading.Event()

    def finisher() -> None:
        try:
            with transaction.atomic():
                Execution.objects.filter(pk=rows[1].pk).update(result="ending")
                held.set()
                if not release.wait(30):  # a heartbeat that waited for us: time out, then
                    let_go.set()  # commit, so the test fails rather than hangs
        finally:
            connections.close_all()

    thread = threading.Thread(target=finisher)
    thread.start()
    try:
        assert held.wait(30)
        beaten = store.heartbeat([row.pk for row in rows], "default")
        waited = let_go.is_set()
    finally:
        release.set()
        thread.join()
    assert not waited, "the heartbeat waited for the row the other transaction held"
    assert beaten == 2
    beats = dict(Execution.objects.values_list("pk", "heartbeat_at"))
    assert beats[rows[0].pk] is not None and beats[rows[2].pk] is not None
    assert beats[rows[1].pk] is None  # held by the finisher: passed over, not waited for


def test_a_heartbeat_with_older_than_beats_only_the_runs_not_beaten_since() -> None:
    """The upkeep beats a run only when its last beat (or its start) is older than a sixth of
    the TTL: a stream of short runs is not written again while the finisher ends them."""
    from django.utils import timezone

    parent = schedule()
    fresh, stale = (execution(parent, m, status=ExecutionStatus.RUNNING) for m in range(2))
    now = timezone.now()
    Execution.objects.filter(pk=fresh.pk).update(heartbeat_at=now)
    Execution.objects.filter(pk=stale.pk).update(heartbeat_at=now - timedelta(hours=1))
    beaten = store.heartbeat([fresh.pk, stale.pk], "default", older_than=timedelta(minutes=5))
    assert beaten == 1
    beats = dict(Execution.objects.values_list("pk", "heartbeat_at"))
    assert beats[fresh.pk] == now  # left alone
    assert beats[stale.pk] is not None and beats[stale.pk] > now - timedelta(minutes=5)
