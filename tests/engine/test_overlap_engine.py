"""The overlap policies through the scheduler, a real thread pool and real runs (and a real
process pool for cancel_running): what the next occurrence does while a run is still going."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

import pytest

from django_schedules.clock import ManualClock
from django_schedules.executors import ProcessPoolExecutor, ThreadPoolExecutor
from django_schedules.models import Execution, Schedule
from django_schedules.scheduler import Scheduler
from tests.engine import jobs
from tests.polling import wait_until

from .conftest import NOW, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db(transaction=True)
DEADLINE = 120  # seconds: a loaded machine is slow, never this slow


def statuses(job_id: str) -> list[str]:
    rows = Execution.objects.filter(job_id=job_id).order_by("fire_time")
    return list(rows.values_list("status", flat=True))


def running(job_id: str) -> int:
    return Execution.objects.filter(job_id=job_id, status="running").count()


def settle(scheduler: Scheduler, job_id: str, message: str) -> None:
    """Tick until no run of `job_id` is pending, running or buffered."""
    waiting = ["pending", "running", "buffered"]

    def done() -> bool:
        scheduler.tick()
        return not Execution.objects.filter(job_id=job_id, status__in=waiting).exists()

    wait_until(done, timeout=DEADLINE, message=message)


@pytest.fixture
def pool():
    executor = ThreadPoolExecutor("default", {"max_workers": 4}, using="default")
    try:
        yield executor
    finally:
        jobs.RELEASE.set()
        executor.close()


def blocked(job_id: str, overlap: str, **fields) -> Schedule:
    # Each run waits for jobs.RELEASE: the first is still going at the next occurrences.
    return interval_schedule(
        job_id, 60, func="engine.block", kwargs={"seconds": 90.0}, overlap=overlap, **fields
    )


def first_run_going(clock: ManualClock, pool, job_id: str) -> Scheduler:
    scheduler = make_scheduler(clock, pool)
    scheduler.tick()
    wait_until(lambda: running(job_id) == 1, timeout=DEADLINE, message="the first run to start")
    return scheduler


def occurrences_while_running(clock: ManualClock, pool, job_id: str, more: int) -> Scheduler:
    """The first run of `job_id` going, then `more` occurrences falling due, a minute apart,
    each met by a tick: where an overlap policy acts."""
    scheduler = first_run_going(clock, pool, job_id)
    for _ in range(more):
        clock.advance(60)
        scheduler.tick()
    return scheduler


def test_skip_skips_the_occurrence_while_a_run_is_going(clock, pool) -> None:
    blocked("skips", "skip")
    scheduler = first_run_going(clock, pool, "skips")
    clock.advance(60)
    scheduler.tick()
    assert statuses("skips") == ["running", "skipped"]
    skipped = Execution.objects.get(job_id="skips", status="skipped")
    assert skipped.reason == "overlap=skip: a run of the schedule is still going"
    jobs.RELEASE.set()
    settle(scheduler, "skips", "the run to end")
    assert statuses("skips") == ["succeeded", "skipped"]
    row = Schedule.objects.get(job_id="skips")
    assert (row.overlaps_skipped, row.overlaps_buffered) == (1, 0)


def test_allow_starts_another_run_beside_the_one_going(clock, pool) -> None:
    blocked("allows", "allow")  # max_instances 1 (the default): no cap under allow
    scheduler = occurrences_while_running(clock, pool, "allows", 2)
    wait_until(lambda: running("allows") == 3, timeout=DEADLINE, message="three runs at once")
    jobs.RELEASE.set()
    settle(scheduler, "allows", "the runs to end")
    assert statuses("allows") == ["succeeded"] * 3
    assert Schedule.objects.get(job_id="allows").overlaps_skipped == 0


def test_allow_with_max_instances_caps_the_runs_at_once(clock, pool) -> None:
    blocked("capped", "allow", max_instances=2)
    scheduler = occurrences_while_running(clock, pool, "capped", 2)
    wait_until(lambda: running("capped") == 2, timeout=DEADLINE, message="two runs at once")
    assert statuses("capped") == ["running", "running", "skipped"]
    jobs.RELEASE.set()
    settle(scheduler, "capped", "the runs to end")
    assert Schedule.objects.get(job_id="capped").overlaps_skipped == 1


def test_buffer_one_runs_once_more_when_the_running_one_ends(clock, pool) -> None:
    blocked("buffers", "buffer_one")
    scheduler = occurrences_while_running(clock, pool, "buffers", 2)
    assert statuses("buffers") == ["running", "buffered", "skipped"]
    reasons = list(
        Execution.objects.filter(job_id="buffers").order_by("fire_time").values_list("reason")
    )
    assert reasons[1:] == [
        ("overlap=buffer_one: buffered until the running run ends",),
        ("overlap=buffer_one: the buffer is full (a run already waits)",),
    ]
    jobs.RELEASE.set()
    settle(scheduler, "buffers", "the first run and the buffered one to end")
    assert statuses("buffers") == ["succeeded", "succeeded", "skipped"]
    first, second = Execution.objects.filter(job_id="buffers", status="succeeded").order_by(
        "fire_time"
    )
    assert first.finished_at is not None and second.started_at is not None
    assert second.started_at >= first.finished_at  # after the first ended, never beside it
    row = Schedule.objects.get(job_id="buffers")
    assert (row.overlaps_skipped, row.overlaps_buffered) == (1, 1)


def test_buffer_all_runs_every_occurrence_one_at_a_time_oldest_first(clock, pool) -> None:
    blocked("queues", "buffer_all")
    scheduler = occurrences_while_running(clock, pool, "queues", 3)
    assert statuses("queues") == ["running", "buffered", "buffered", "buffered"]
    jobs.RELEASE.set()
    settle(scheduler, "queues", "every buffered run to end")
    runs = list(Execution.objects.filter(job_id="queues").order_by("fire_time"))
    assert [r.status for r in runs] == ["succeeded"] * 4
    for earlier, later in itertools.pairwise(runs):
        assert later.started_at >= earlier.finished_at  # in fire-time order, never overlapping
    row = Schedule.objects.get(job_id="queues")
    assert (row.overlaps_skipped, row.overlaps_buffered) == (0, 3)


def test_without_a_policy_max_instances_keeps_its_meaning(clock, pool) -> None:
    blocked("classic", "", max_instances=2)
    scheduler = occurrences_while_running(clock, pool, "classic", 2)
    wait_until(lambda: running("classic") == 2, timeout=DEADLINE, message="two runs at once")
    skipped = Execution.objects.get(job_id="classic", status="skipped")
    assert skipped.reason == "max_instances reached (2 already running)"
    jobs.RELEASE.set()
    settle(scheduler, "classic", "the runs to end")


def test_cancel_running_kills_the_running_run_in_a_process_pool(
    clock, monkeypatch, tmp_path: Path
) -> None:
    from tests.databases import database_url

    monkeypatch.setenv("DATABASE_URL", database_url())  # the spawned workers' database
    ledger = tmp_path / "ledger"
    interval_schedule(
        "cancels",
        60,
        func="workers.ledger",
        kwargs={"path": str(ledger), "seconds": 15.0},
        overlap="cancel_running",
    )
    executor = ProcessPoolExecutor("default", {"max_workers": 2}, using="default")
    try:
        scheduler = make_scheduler(clock, executor)
        scheduler.tick()
        wait_until(
            lambda: ledger.exists() and ledger.read_text().count("\n") == 1,
            timeout=DEADLINE,
            message="the first run to start its job",
        )
        clock.advance(60)
        scheduler.tick()  # the next occurrence: the first run is stopped, the second starts
        first = Execution.objects.filter(job_id="cancels").order_by("fire_time").first()
        assert first is not None
        assert (first.status, first.reason) == (
            "failed",
            "cancelled: overlap=cancel_running started the next occurrence",
        )
        settle(scheduler, "cancels", "the second run to end")
    finally:
        executor.close()
    assert statuses("cancels") == ["failed", "succeeded"]
    first, second = Execution.objects.filter(job_id="cancels").order_by("fire_time")
    lines = [line.split() for line in ledger.read_text().splitlines()]
    # The first run's job started and never reached its end: its worker was killed.
    assert [(int(e), what) for e, what, *_ in lines if int(e) == first.pk] == [(first.pk, "1")]
    assert [what for e, what, *_ in lines if int(e) == second.pk] == ["1", "end"]


def test_the_leader_releases_a_buffered_run_nobody_released(clock) -> None:
    # Its run ended while the claim was buffering this one (or was marked lost): nobody's
    # finish released it, so the leader's upkeep does, and it runs once.
    parent = interval_schedule(
        "stranded", 60, overlap="buffer_one", next_run_at=NOW + timedelta(hours=1)
    )
    Execution.objects.create(
        schedule=parent,
        job_id=parent.job_id,
        func="engine.record",
        kwargs={"tag": "buffered"},
        fire_time=NOW - timedelta(minutes=1),
        status="buffered",
    )
    scheduler = make_scheduler(clock)  # inline: a run starts and ends in tick()
    wait_until(
        lambda: scheduler.tick() or statuses("stranded") == ["succeeded"],
        timeout=DEADLINE,
        message="the stranded run to be released and run",
    )
    assert jobs.RUNS == [("record", "buffered")]
