"""Overlap ``buffer_all`` through SIGKILLs of the leader (issue 18): schedules firing every
second a job that takes 1.5 s, so their occurrences wait as ``buffered`` rows, under two
scheduler processes whose leader is killed twice. Every occurrence gets exactly one Execution;
every buffered run is released and run once, even those whose releaser died (the new leader's
``release_stranded``); no two runs of a schedule ever overlap; nothing is left pending,
running or buffered.
"""

from __future__ import annotations

import itertools
import signal
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from django_schedules.models import Execution, Schedule
from django_schedules.triggers import IntervalTrigger

from .harness import (
    Figures,
    clean,
    count_occurrences,
    leader_pid,
    lease,
    process_of,
    progress,
    scale,
    scheduler_process,
    start_of_load,
    wait_for,
    wait_for_takeover,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

JOB_SECONDS = 1.5
PREFIX = "bufd"


def make_buffered(count: int, start: datetime, end: datetime, ledger: Path) -> None:
    trigger = IntervalTrigger(seconds=1, start_date=start, end_date=end).to_dict()
    Schedule.objects.bulk_create(
        Schedule(
            job_id=f"{PREFIX}-{i}",
            func="kills.ledger",
            kwargs={"path": str(ledger), "seconds": JOB_SECONDS},
            trigger=trigger,
            trigger_kind="interval",
            next_run_at=start,
            overlap="buffer_all",
            misfire_grace_time=None,  # a buffered run waits as long as it must, then runs
        )
        for i in range(count)
    )


def read_ledger(path: Path) -> tuple[Counter[int], dict[int, tuple[float, float]]]:
    """How many times each execution started, and the (start, end) of the runs that ended."""
    starts: Counter[int] = Counter()
    began: dict[int, float] = {}
    ended: dict[int, tuple[float, float]] = {}
    for line in path.read_text().splitlines():
        what, execution_id, _attempt, at = line.split()
        if what == "start":
            starts[int(execution_id)] += 1
            began[int(execution_id)] = float(at)
        else:
            ended[int(execution_id)] = (began[int(execution_id)], float(at))
    return starts, ended


def test_buffered_runs_run_once_each_and_one_at_a_time_through_leader_kills(
    tmp_path: Path,
) -> None:
    kills, count, seconds = scale("BUFFER_KILLS", 2), scale("BUFFER_SCHEDULES", 3), 12
    figures = Figures("buffer_all through leader kills")
    ledger = tmp_path / "ledger"
    start = start_of_load()
    end = start + timedelta(seconds=seconds - 1)
    make_buffered(count, start, end, ledger)
    with ExitStack() as stack:
        procs = [stack.enter_context(scheduler_process()) for _ in range(2)]
        wait_for(lambda: leader_pid() is not None, 60, "a leader")
        wait_for(lambda: datetime.now(UTC) > start + timedelta(seconds=2), 60, "runs to buffer")
        for i in range(kills):
            wait_for(
                lambda: Execution.objects.filter(status="buffered").exists(), 60, "buffered runs"
            )
            epoch = lease().epoch  # type: ignore[union-attr]
            victim = process_of(procs, leader_pid())
            victim.signal(signal.SIGKILL)
            assert victim.process is not None and victim.process.wait(30) == -signal.SIGKILL
            took = wait_for_takeover(epoch)
            figures.faults += 1
            progress(f"kill {i + 1}/{kills} of the leader with runs buffered: {took:.2f} s")
            procs.remove(victim)
            procs.append(stack.enter_context(scheduler_process()))
            time.sleep(2.0)
        # Every occurrence falls due by `end`; the backlog then drains one run at a time.
        wait_for(
            lambda: (
                not Execution.objects.filter(
                    job_id__startswith=PREFIX, status__in=("pending", "running", "buffered")
                ).exists()
                and datetime.now(UTC) > end + timedelta(seconds=2)
            ),
            240,
            "every buffered run to be released and run",
        )
        for proc in procs:
            assert clean(proc.output()) == [], proc.output()
    statuses = count_occurrences(figures, start, end, count, prefix=PREFIX)
    figures.notes = {"statuses": dict(statuses)}
    figures.record()
    figures.assert_clean()  # one Execution per occurrence, none left live
    assert set(statuses) <= {"succeeded", "lost"}, statuses
    # Only a run going in a killed leader's thread pool is lost: one per schedule per kill.
    assert statuses["lost"] <= count * kills, statuses

    rows = Execution.objects.filter(job_id__startswith=PREFIX)
    starts, ended = read_ledger(ledger)
    # Each execution's job started at most once (a killed leader's run died with it: lost).
    assert max(starts.values()) == 1, [i for i, n in starts.items() if n > 1]
    succeeded = set(rows.filter(status="succeeded").values_list("pk", flat=True))
    assert succeeded == set(ended), succeeded ^ set(ended)
    # Runs waited in the buffer: released after their occurrence, not at it.
    waited = [
        (run_at - fire).total_seconds()
        for run_at, fire in rows.filter(status="succeeded").values_list("run_at", "fire_time")
    ]
    assert max(waited) >= 1.0, waited
    # One at a time per schedule: the runs that ended never overlap.
    by_schedule: dict[str, list[tuple[float, float]]] = {}
    for pk, job_id in rows.filter(pk__in=list(ended)).values_list("pk", "job_id"):
        by_schedule.setdefault(job_id, []).append(ended[pk])
    for job_id, runs in by_schedule.items():
        runs.sort()
        for (_, first_end), (second_start, _) in itertools.pairwise(runs):
            assert second_start >= first_end, (job_id, runs)
