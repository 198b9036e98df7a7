"""A schedule with ``max_runs`` through the scheduler and the runner: it runs N times, pauses
itself with the reason, and a run claimed ahead past the limit is refused when it starts."""

from __future__ import annotations

import pytest

from django_schedules.clock import ManualClock
from django_schedules.executors import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from django_schedules.models import Execution, ExecutionStatus, Schedule
from django_schedules.runner import run_execution_now
from tests.engine import jobs

from .conftest import RecordingExecutor, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db
REASON = "run limit reached: max_runs=2 runs started"


def test_it_runs_n_times_then_pauses_itself_with_the_reason(clock: ManualClock) -> None:
    interval_schedule("twice", 60, max_runs=2, kwargs={"tag": "t"})
    scheduler = make_scheduler(clock)  # the inline executor: each run starts and ends in tick()
    for _ in range(4):
        scheduler.tick()
        clock.advance(60)
    row = Schedule.objects.get(job_id="twice")
    assert (row.enabled, row.pause_reason, row.runs_started) == (False, REASON, 2)
    assert len(jobs.RUNS) == 2
    statuses = list(Execution.objects.order_by("fire_time").values_list("status", "run_number"))
    assert statuses == [(ExecutionStatus.SUCCEEDED, 1), (ExecutionStatus.SUCCEEDED, 2)]


def test_a_run_claimed_ahead_past_the_limit_never_starts(clock: ManualClock) -> None:
    interval_schedule("ahead", 60, max_runs=2, max_instances=5, kwargs={"tag": "a"})
    executor = RecordingExecutor()
    # Claims ahead in two passes before any run starts: each claim sees no run started yet,
    # so three occurrences are pending for a limit of two.
    scheduler = make_scheduler(clock, executor, lookahead=70.0)
    scheduler.tick()
    clock.advance(90)  # the third occurrence (at 120 s) comes within half the look-ahead
    scheduler.tick()
    assert len(executor.submitted) == 3
    outcomes = [run_execution_now(pk, epoch, "default") for pk, epoch in executor.submitted]
    assert outcomes == ["succeeded", "succeeded", ""]  # "": not started
    third = Execution.objects.get(pk=executor.submitted[2][0])
    assert (third.status, third.reason, third.started_at) == ("skipped", REASON, None)
    assert len(jobs.RUNS) == 2
    row = Schedule.objects.get(job_id="ahead")
    assert (row.enabled, row.runs_started) == (False, 2)


def test_one_claim_plans_no_more_runs_than_the_limit_leaves(clock: ManualClock) -> None:
    interval_schedule("capped", 60, max_runs=2, max_instances=5, kwargs={"tag": "c"})
    executor = RecordingExecutor()
    make_scheduler(clock, executor, lookahead=150.0).tick()  # three occurrences in one claim
    rows = list(Execution.objects.order_by("fire_time").values_list("status", "reason"))
    assert rows == [("pending", ""), ("pending", ""), ("skipped", REASON)]
    assert len(executor.submitted) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pool", ["thread", "process"])
def test_the_pools_start_no_run_past_the_limit(clock: ManualClock, monkeypatch, pool) -> None:
    # Three runs of a schedule limited to two, claimed ahead, handed to a real pool at once:
    # the thread pool starts them in one batch, the process pool's spawned workers one each.
    from tests.databases import database_url
    from tests.polling import wait_until

    monkeypatch.setenv("DATABASE_URL", database_url())  # the spawned workers' database
    interval_schedule(
        "pooled", 60, func="tests.testapp.jobs.add", args=[1, 2], max_runs=2, max_instances=5
    )
    recorder = RecordingExecutor()
    scheduler = make_scheduler(clock, recorder, lookahead=70.0)
    scheduler.tick()
    clock.advance(90)
    scheduler.tick()
    assert len(recorder.submitted) == 3
    if pool == "thread":
        executor: Executor = ThreadPoolExecutor("default", {"max_workers": 3}, using="default")
    else:
        executor = ProcessPoolExecutor("default", {"max_workers": 2}, using="default")
    try:
        for pk, epoch in recorder.submitted:
            executor.submit(pk, epoch, None)
        wait_until(
            lambda: not Execution.objects.filter(status__in=["pending", "running"]).exists(),
            timeout=120,
            message="the three runs to end or be refused",
        )
    finally:
        executor.close()
    statuses = sorted(Execution.objects.values_list("status", flat=True))
    assert statuses == ["skipped", "succeeded", "succeeded"]
    row = Schedule.objects.get(job_id="pooled")
    assert (row.enabled, row.runs_started, row.pause_reason) == (False, 2, REASON)
