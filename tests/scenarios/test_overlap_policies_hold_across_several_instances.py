from __future__ import annotations

import itertools
import signal
from datetime import timedelta

import pytest

from django_schedules import add_job
from django_schedules.models import Execution, Schedule

from .helpers import clean, fires, leader_pid, scheduler_process, utcnow, wait_for

JOB_SECONDS = 1.5
OCCURRENCES = 6


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("overlap", ["buffer_one", "buffer_all"])
def test_buffered_runs_run_once_each_and_never_overlap_through_a_leader_change(
    overlap: str,
) -> None:
    """A 1-second schedule runs a 1.5-second job, buffered rather than skipped, under two
    ``runscheduler`` instances whose leader is replaced by SIGTERM halfway (a deploy).

    Every occurrence has one Execution; no two runs of the schedule overlap; a buffered run
    is released once the run before it ends, whichever process ran that one, and runs once.
    buffer_one keeps one waiting and skips the rest; buffer_all runs them all, in order.
    """
    start = utcnow().replace(microsecond=0) + timedelta(seconds=3)
    last = start + timedelta(seconds=OCCURRENCES - 1)
    add_job(
        "scenarios.sleep",
        "interval",
        seconds=1,
        start_date=start,
        end_date=last,
        id="report",
        kwargs={"seconds": JOB_SECONDS},
        overlap=overlap,
        misfire_grace_time=None,  # a buffered run starts late by design
    )
    procs = [scheduler_process() for _ in range(2)]
    for proc in procs:
        proc.__enter__()
    try:
        wait_for(lambda: leader_pid() is not None, 60, "a leader")
        wait_for(lambda: utcnow() > start + timedelta(seconds=2.5), 60, "halfway")
        first = next(p for p in procs if p.process and p.process.pid == leader_pid())
        first.signal(signal.SIGTERM)  # the deploy replaces the leader
        wait_for(lambda: fires("report", fire_time=last), 60, "the last occurrence")
        waiting = ["pending", "running", "buffered"]
        wait_for(
            lambda: not Execution.objects.filter(job_id="report", status__in=waiting).exists(),
            120,
            "every buffered run to run",
        )
    finally:
        outputs = [p.output() for p in procs]
        codes = [p.stop() for p in procs]
        for proc in procs:
            proc.__exit__(None, None, None)
    assert codes == [0, 0], outputs
    runs = fires("report")
    assert [e.fire_time for e in runs] == [start + timedelta(seconds=k) for k in range(OCCURRENCES)]
    ran = sorted((e for e in runs if e.started_at is not None), key=lambda e: e.started_at)
    # A run the old leader could not finish within its shutdown grace is marked lost (it ran
    # once, and its buffered successor is released all the same); none runs twice.
    assert {e.status for e in ran} <= {"succeeded", "lost"}, [(e.status, e.reason) for e in runs]
    assert [e.fire_time for e in ran] == sorted(e.fire_time for e in ran)  # oldest first
    for before, after in itertools.pairwise(e for e in ran if e.status == "succeeded"):
        assert before.finished_at <= after.started_at, (before, after)  # type: ignore[operator]
    skipped = [e for e in runs if e.status == "skipped"]
    row = Schedule.objects.get(job_id="report")
    if overlap == "buffer_all":
        assert skipped == [] and len(ran) == OCCURRENCES
    else:
        assert len(skipped) >= 1
        full = "overlap=buffer_one: the buffer is full (a run already waits)"
        assert {e.reason for e in skipped} == {full}
    assert row.overlaps_skipped == len(skipped)
    assert row.overlaps_buffered >= 1
    assert [line for out in outputs for line in clean(out)] == []
