"""Kills with real engine processes: the job's own process (RQ's work horse, Celery's prefork
child) killed mid-run, and a whole worker killed with everything it forked, on RQ the one
holding RQ's scheduler lock. After each: 0 duplicates, 0 occurrences without a row, 0 rows
stuck (tests/workers/faults.py)."""

from __future__ import annotations

import os
import signal
import statistics
import time
from pathlib import Path

import pytest

from django_schedules.models import Execution, ExecutionStatus

from .faults import Schedules, lateness, run_on, settle_and_check
from .test_faults import runscheduler
from .test_workers import ledger_lines, wait, worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Workers heartbeat every second, so the leader finds a dead one's run lost after 3 s.
FAST_LOSS = {"SCHEDULES_WORKER_LEASE_TTL": "3"}


@pytest.mark.parametrize("engine", ["rq", "celery"])
def test_the_jobs_process_killed_mid_run(engine: str, queue: str, tmp_path: Path) -> None:
    """SIGKILL of the process running the job: the worker survives it, the row is found lost
    by its stopped heartbeat and, with `rerun_lost`, run again once as attempt 2; the first
    attempt never finishes, nothing runs twice."""
    schedules = Schedules(engine, tmp_path / "ledger.txt", count=1, seconds=3, rerun_lost=True)
    with (
        worker(engine, queue, **FAST_LOSS) as engine_worker,
        runscheduler(queue, **FAST_LOSS) as loop,
    ):
        wait(lambda: ledger_lines(schedules.ledger), "the first run", loop, engine_worker)
        victim_id, attempt, _, pid = ledger_lines(schedules.ledger)[0]
        os.kill(int(pid), signal.SIGKILL)
        killed_at = time.time()
        victim = Execution.objects.filter(pk=int(victim_id))
        wait(
            lambda: victim.get().status == ExecutionStatus.SUCCEEDED,
            "the second attempt",
            loop,
            engine_worker,
        )
        assert victim.get().attempt == 2
        assert engine_worker.process is not None and engine_worker.process.poll() is None
        run_on(engine_worker, loop)
        statuses = settle_and_check(schedules, time.time(), engine_worker, loop)
        assert loop.stop() == 0, loop.output()
    assert attempt == "1"
    starts = [line[:2] for line in ledger_lines(schedules.ledger) if line[0] == victim_id]
    assert starts == [[victim_id, "1"], [victim_id, "2"]]
    # One end: the second attempt's; the killed one stopped where it was.
    ends = [
        float(line[2]) for line in ledger_lines(schedules.ledger, "end") if line[0] == victim_id
    ]
    assert len(ends) == 1 and ends[0] > killed_at, ends
    assert statuses[ExecutionStatus.SUCCEEDED] >= 1, statuses


def holds_rq_scheduler_lock(command_output: str) -> bool:
    return "Acquired scheduler lock" in command_output


@pytest.mark.parametrize("engine", ["rq", "celery"])
def test_a_whole_worker_killed(engine: str, queue: str, tmp_path: Path) -> None:
    """Two workers; one is killed with SIGKILL with all it forked (on RQ the holder of RQ's
    scheduler lock, which then outlives it by 61 s, and which stalled every deferred run in
    issue 17). Runs go on on the other worker at once: no message waits for RQ's scheduler
    (a long lead waits in the executor's outbox, not in the broker). The dead worker's run is
    found lost; a message it had taken is sent again by the sweeper; nothing runs twice."""
    schedules = Schedules(engine, tmp_path / "ledger.txt", seconds=0.05)
    with (
        worker(engine, queue, name=f"{queue}-a", **FAST_LOSS) as first,
        worker(engine, queue, name=f"{queue}-b", **FAST_LOSS) as second,
        runscheduler(queue, **FAST_LOSS) as loop,
    ):
        wait(
            lambda: len(ledger_lines(schedules.ledger)) >= 10,
            "runs before the kill",
            loop,
            first,
            second,
        )
        victim, survivor = first, second
        if engine == "rq":
            wait(
                lambda: any(holds_rq_scheduler_lock(w.output()) for w in (first, second)),
                "a scheduler lock",
                first,
                second,
            )
            if holds_rq_scheduler_lock(second.output()):
                victim, survivor = second, first
        os.killpg(victim.pid, signal.SIGKILL)  # the worker, its work horse and its scheduler
        killed_at = time.time()
        wait(
            lambda: any(float(line[2]) > killed_at + 12 for line in ledger_lines(schedules.ledger)),
            "runs after the kill",
            loop,
            survivor,
        )
        run_on(survivor, loop)
        statuses = settle_and_check(schedules, time.time(), survivor, loop)
        assert loop.stop() == 0, loop.output()
    late = lateness(schedules, killed_at + 1)
    assert len(late) >= 40, late
    # Not held for RQ's lock (61 s); a message the dead worker had taken waits for the
    # sweeper (redeliver_after 10 s).
    assert statistics.median(late) < 1.0 and max(late) < 15, sorted(late)[-5:]
    assert statuses[ExecutionStatus.SUCCEEDED] >= 40, statuses
