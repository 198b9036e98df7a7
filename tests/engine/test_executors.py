from __future__ import annotations

import time
from datetime import timedelta

import pytest

from django_schedules.clock import ManualClock
from django_schedules.executors import (
    InlineExecutor,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    build_executors,
)
from django_schedules.models import Execution, ExecutionStatus
from tests.engine import jobs
from tests.polling import wait_until

from .conftest import interval_schedule, make_scheduler

DEADLINE = 30.0


def wait_for(predicate, timeout: float = DEADLINE) -> None:
    wait_until(predicate, timeout=timeout, interval=0.02)


def test_it_builds_executors_from_settings(settings) -> None:
    settings.SCHEDULES_EXECUTORS = {
        "default": {"BACKEND": "threadpool", "OPTIONS": {"max_workers": 2}},
        "heavy": {"BACKEND": "processpool"},
        "now": {"BACKEND": "django_schedules.executors.InlineExecutor"},
    }
    built = build_executors()
    assert isinstance(built["default"], ThreadPoolExecutor) and built["default"].max_workers == 2
    assert isinstance(built["heavy"], ProcessPoolExecutor)
    assert isinstance(built["now"], InlineExecutor)


def test_it_rejects_a_backend_that_is_not_an_executor() -> None:
    with pytest.raises(TypeError, match=r"must name an Executor subclass, got 'datetime.date'"):
        build_executors({"x": {"BACKEND": "datetime.date"}})


@pytest.mark.django_db(transaction=True)
def test_the_thread_pool_runs_jobs_and_closes_its_threads(clock: ManualClock) -> None:
    interval_schedule("a", 60, kwargs={"tag": "a"})
    interval_schedule("b", 60, kwargs={"tag": "b"})
    executor = ThreadPoolExecutor("default", {"max_workers": 2}, using="default")
    scheduler = make_scheduler(clock, executor)
    scheduler.tick()
    wait_for(lambda: not executor.running_ids())
    executor.close()
    assert sorted(Execution.objects.values_list("status", flat=True)) == ["succeeded"] * 2
    assert sorted(jobs.RUNS) == [("record", "a"), ("record", "b")]
    assert {w.split(":")[-1][:17] for w in Execution.objects.values_list("worker", flat=True)} == {
        "schedules-default"
    }


@pytest.mark.django_db(transaction=True)
def test_a_thread_run_past_its_timeout_is_marked_failed(clock: ManualClock) -> None:
    interval_schedule("job", 60, func="engine.block", timeout=0.1)
    executor = ThreadPoolExecutor("default", {}, using="default")
    scheduler = make_scheduler(clock, executor)
    scheduler.tick()
    wait_for(lambda: Execution.objects.filter(status="running").exists())
    time.sleep(0.15)  # past the timeout: the next tick's upkeep notices it
    scheduler.tick()
    execution = Execution.objects.get()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.reason == "timeout: still running after 0.1s"
    jobs.RELEASE.set()
    wait_for(lambda: not executor.running_ids())
    executor.close()
    assert Execution.objects.get().status == ExecutionStatus.FAILED  # the late result is dropped


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_process_pool_runs_jobs_in_spawned_processes(clock: ManualClock, monkeypatch) -> None:
    import os

    from tests.databases import database_url

    # The spawned workers read settings afresh: point them at the test database.
    monkeypatch.setenv("DATABASE_URL", database_url())

    interval_schedule("job", 60, func="tests.testapp.jobs.add", args=[20, 22])
    executor = ProcessPoolExecutor("heavy", {"max_workers": 1}, using="default")
    scheduler = make_scheduler(clock, executor)
    try:
        scheduler.tick()
        wait_for(lambda: not executor.running_ids(), timeout=60)
    finally:
        executor.close()
    execution = Execution.objects.get()
    assert (execution.status, execution.result) == ("succeeded", "42")
    assert f":{os.getpid()}:" not in execution.worker


@pytest.mark.django_db(transaction=True)
def test_shutdown_marks_runs_past_the_grace_as_lost(clock: ManualClock) -> None:
    interval_schedule("job", 60, func="engine.block")
    executor = ThreadPoolExecutor("default", {}, using="default")
    scheduler = make_scheduler(clock, executor, shutdown_grace=0.2)
    scheduler.tick()
    wait_for(lambda: Execution.objects.filter(status="running").exists())
    scheduler._shutdown()
    execution = Execution.objects.get()
    assert execution.status == ExecutionStatus.LOST
    assert execution.reason == "the scheduler shut down before it finished"
    assert not scheduler.lease.held
    jobs.RELEASE.set()
    wait_for(lambda: not executor.running_ids())


@pytest.mark.django_db(transaction=True)
def test_signals_are_sent_with_the_execution(clock: ManualClock) -> None:
    from django_schedules import signals

    seen: list[tuple[str, str]] = []

    def started(sender, execution, **kwargs):
        seen.append(("started", execution.status))

    def finished(sender, execution, **kwargs):
        seen.append(("finished", execution.status))

    def failed(sender, execution, **kwargs):
        seen.append(("failed", execution.status))

    signals.execution_started.connect(started)
    signals.execution_finished.connect(finished)
    signals.execution_failed.connect(failed)
    try:
        interval_schedule("ok", 60)
        interval_schedule("bad", 60, func="engine.boom", next_run_at=None)
        scheduler = make_scheduler(clock)
        scheduler.tick()
        assert seen == [("started", "running"), ("finished", "succeeded")]
        seen.clear()
        from django_schedules.models import Schedule

        Schedule.objects.filter(job_id="bad").update(next_run_at=clock.now())
        scheduler.tick()
        assert seen == [("started", "running"), ("finished", "failed"), ("failed", "failed")]
    finally:
        signals.execution_started.disconnect(started)
        signals.execution_finished.disconnect(finished)
        signals.execution_failed.disconnect(failed)


@pytest.mark.django_db
def test_a_duplicate_delivery_never_runs_a_job_twice(clock: ManualClock) -> None:
    from django_schedules.executors import run_execution_now

    from .conftest import RecordingExecutor

    interval_schedule("job", 60)
    executor = RecordingExecutor()
    make_scheduler(clock, executor).tick()
    ((execution_id, epoch),) = executor.submitted
    assert run_execution_now(execution_id, epoch) == "succeeded"
    assert run_execution_now(execution_id, epoch) == ""
    assert run_execution_now(execution_id, None) == ""
    assert jobs.RUNS == [("record", "")]
    assert Execution.objects.get().finished_at is not None
    assert Execution.objects.get().duration < timedelta(seconds=5)


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_refreshes_the_heartbeat_of_its_running_jobs(clock: ManualClock) -> None:
    from django_schedules.dbclock import DbNow

    interval_schedule("job", 60, func="engine.block")
    executor = ThreadPoolExecutor("default", {}, using="default")
    scheduler = make_scheduler(clock, executor, lease_ttl=15)
    scheduler.tick()
    wait_for(lambda: Execution.objects.filter(status="running").exists())
    Execution.objects.update(heartbeat_at=DbNow() - timedelta(minutes=10))
    stale = Execution.objects.get().heartbeat_at
    clock.advance(5)  # a third of the TTL: upkeep is due
    scheduler.tick()
    execution = Execution.objects.get()
    assert execution.status == ExecutionStatus.RUNNING and execution.heartbeat_at > stale
    jobs.RELEASE.set()
    wait_for(lambda: not executor.running_ids())
    executor.close()
    assert Execution.objects.get().status == ExecutionStatus.SUCCEEDED


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_process_pool_run_past_its_timeout_is_killed_and_its_worker_replaced(
    clock: ManualClock, monkeypatch
) -> None:
    from tests.databases import database_url

    monkeypatch.setenv("DATABASE_URL", database_url())
    interval_schedule("slow", 3600, func="scenarios.sleep", args=[60], timeout=1)
    interval_schedule("after", 3600, func="tests.testapp.jobs.add", args=[1, 2])
    executor = ProcessPoolExecutor("heavy", {"max_workers": 1}, using="default")
    scheduler = make_scheduler(clock, executor)
    try:
        scheduler.tick()  # both handed over; one worker: "after" waits behind "slow"
        wait_for(lambda: Execution.objects.filter(job_id="slow", status="running").exists(), 60)
        (victim,) = [w.process for w in executor._workers]

        def timed_out() -> bool:
            scheduler.tick()  # the upkeep notices the overdue run
            return Execution.objects.filter(job_id="slow", status="failed").exists()

        wait_for(timed_out, timeout=60)
        wait_for(lambda: not victim.is_alive(), timeout=30)
        # The replacement worker runs the next one.
        wait_for(lambda: Execution.objects.filter(job_id="after", status="succeeded").exists(), 60)
        wait_for(lambda: not executor.running_ids(), timeout=30)
    finally:
        executor.close()
    slow = Execution.objects.get(job_id="slow")
    assert slow.reason.startswith("timeout:"), slow.reason
    assert slow.duration is None or slow.duration.total_seconds() < 30
    assert victim.exitcode is not None and victim.exitcode < 0  # killed by a signal


@pytest.mark.django_db(transaction=True)
def test_the_thread_pool_runs_an_execution_handed_over_twice_once(clock: ManualClock) -> None:
    """The starter's batch is a compare-and-swap per row: a second delivery of the same run
    (a re-dispatch after a failed pass) in the same batch or a later one starts nothing."""
    from .conftest import RecordingExecutor

    interval_schedule("twice", 60, kwargs={"tag": "twice"})
    recording = RecordingExecutor()
    make_scheduler(clock, recording).tick()
    [(execution_id, epoch)] = recording.submitted
    executor = ThreadPoolExecutor("default", {"max_workers": 4}, using="default")
    for _ in range(3):
        executor.submit(execution_id, epoch, None)
    wait_for(lambda: not executor.running_ids())
    executor.submit(execution_id, epoch, None)
    wait_for(lambda: not executor.running_ids())
    executor.close()
    assert jobs.RUNS == [("record", "twice")]
    assert Execution.objects.get(pk=execution_id).status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_closing_the_thread_pool_runs_and_records_what_it_started_ahead(
    clock: ManualClock,
) -> None:
    """Runs started ahead of their instant (their rows already ``running``) are run on their
    instant and recorded before close() returns, not left for the lost-run check."""
    from .conftest import RecordingExecutor

    for n in range(3):
        interval_schedule(f"ahead-{n}", 60, kwargs={"tag": f"ahead-{n}"})
    recording = RecordingExecutor()
    make_scheduler(clock, recording).tick()
    executor = ThreadPoolExecutor("default", {"max_workers": 2}, using="default")
    began = time.monotonic()
    for execution_id, epoch in recording.submitted:
        executor.submit(execution_id, epoch, None, start_in=0.3)
    executor.close()
    assert time.monotonic() - began >= 0.3  # not before their instant
    assert sorted(jobs.RUNS) == [("record", f"ahead-{n}") for n in range(3)]
    assert set(Execution.objects.values_list("status", flat=True)) == {"succeeded"}


@pytest.mark.django_db(transaction=True)
def test_a_run_no_worker_could_take_within_its_grace_is_recorded_missed(
    clock: ManualClock,
) -> None:
    """Past the pool's ceiling the misfire rule still applies: a run waiting for a free
    thread longer than its schedule's misfire_grace_time is recorded missed, not started
    however late; one without a grace runs late (issue 16)."""
    from .conftest import RecordingExecutor

    interval_schedule("hog", 60, func="engine.block", kwargs={"seconds": 30})
    interval_schedule("graced", 60, kwargs={"tag": "graced"}, misfire_grace_time=1)
    interval_schedule("patient", 60, kwargs={"tag": "patient"}, misfire_grace_time=None)
    recording = RecordingExecutor()
    make_scheduler(clock, recording).tick()
    ids = dict(Execution.objects.values_list("job_id", "pk"))
    epoch = recording.submitted[0][1]
    executor = ThreadPoolExecutor("default", {"max_workers": 1}, using="default")
    executor.submit(ids["hog"], epoch, None)
    wait_for(lambda: Execution.objects.get(pk=ids["hog"]).status == "running")
    executor.submit(ids["graced"], epoch, None)
    executor.submit(ids["patient"], epoch, None)
    time.sleep(2.0)  # both wait for the one thread, past the 1 s grace
    jobs.RELEASE.set()
    wait_for(lambda: not executor.running_ids())
    executor.close()
    rows = {e.job_id: e for e in Execution.objects.all()}
    assert rows["graced"].status == "missed"
    assert rows["graced"].reason.startswith("missed: no worker was free for ")
    assert rows["graced"].reason.endswith("past its misfire_grace_time of 1 s")
    assert (rows["patient"].status, rows["hog"].status) == ("succeeded", "succeeded")
    assert jobs.RUNS == [("record", "patient")]


@pytest.mark.django_db(transaction=True)
def test_a_warmed_process_pool_spawns_its_workers_before_any_run() -> None:
    """The scheduler warms its executors when it starts: the process pool's spawn and
    django.setup() (about a second each) are not waited for by the first runs (issue 16)."""
    executor = ProcessPoolExecutor("pool", {"max_workers": 2}, using="default")
    try:
        executor.warm()
        wait_for(
            lambda: (
                len(executor._workers) == 2 and all(w.process.is_alive() for w in executor._workers)
            )
        )
        assert executor.running_ids() == []
    finally:
        executor.close()


@pytest.mark.django_db(transaction=True)
def test_runs_a_thread_pool_could_not_start_are_dispatched_again(
    clock: ManualClock, monkeypatch
) -> None:
    # The start's write fails with an error no retry covers: the pool lets go of the runs,
    # whose rows are still pending. The scheduler's next pass dispatches them again, and
    # each runs once.
    from django.db import DatabaseError

    from django_schedules import store

    interval_schedule("a", 60, kwargs={"tag": "a"})
    interval_schedule("b", 60, kwargs={"tag": "b"})
    failing, calls = [True], []
    start = store.start_executions

    def failing_start(*args, **kwargs):
        calls.append(len(args[0]))
        if failing[0]:
            raise DatabaseError("injected: the start's write failed")
        return start(*args, **kwargs)

    monkeypatch.setattr(store, "start_executions", failing_start)
    executor = ThreadPoolExecutor("default", {"max_workers": 2}, using="default")
    scheduler = make_scheduler(clock, executor)
    try:
        scheduler.tick()
        wait_for(lambda: sum(calls) >= 2 and not executor.running_ids())
        assert set(Execution.objects.values_list("status", flat=True)) == {"pending"}
        failing[0] = False  # the database is back
        scheduler.tick()  # finds them left pending, and hands them over again
        wait_for(lambda: Execution.objects.filter(status="succeeded").count() == 2)
    finally:
        executor.close()
    assert sorted(jobs.RUNS) == [("record", "a"), ("record", "b")]
    assert not executor.dropped_some()  # told once, then forgotten
