"""Chaos (issue 21): a group of `runscheduler` processes over a mix of schedules, while the
leader is frozen past its lease (twice: once outside any write, once wherever it is, which on
SQLite may be inside its claim), SIGKILLed, a scheduler is SIGTERMed, and a thread edits the
schedules through the public API all along (modify_job, pause_job, resume_job, reschedule_job,
remove_job, add_job, run_job_now). Each occurrence the triggers and the logged edits call for
has exactly one record, an Execution or a place in a ``missed`` range (tests/kills/chaos.py
says how the oracle knows); none is left pending or running.
"""

from __future__ import annotations

import os
import random
import signal
import time
from contextlib import ExitStack, suppress
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.test import override_settings

from django_schedules import api
from django_schedules.models import Execution, Schedule
from django_schedules.triggers import CronTrigger

from .chaos import (
    EXECUTORS,
    JOB,
    PREFIX,
    Editor,
    Group,
    LockSpy,
    check,
    claimed_ahead,
    lost_context,
    run_chaos,
)
from .harness import (
    LIVE,
    Figures,
    clean,
    freeze,
    leader_pid,
    lease,
    poll_until,
    progress,
    scale,
    wait_for,
    wait_for_takeover,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The faults, in the order injected: the run had two long freezes of the leader.
FAULTS = "freeze,kill,freeze_anywhere,term"


def tracebacks(output: str) -> str:
    """The error lines of a process's output, each with the 30 lines that follow it."""
    lines = output.splitlines()
    marks = [i for i, line in enumerate(lines) if clean(line)]
    return "\n".join("\n".join(lines[i : i + 30]) for i in marks[:3])


def settle(end: datetime, timeout: float = 120) -> int:
    """Wait until every enabled schedule is claimed past `end` and no Execution fired by then
    is pending or running; return how many are left so when time is up."""
    due = Schedule.objects.filter(job_id__startswith=PREFIX, enabled=True, next_run_at__lte=end)
    wait_for(lambda: not due.exists(), timeout, f"the occurrences up to {end:%H:%M:%S}")
    left = Execution.objects.filter(job_id__startswith=PREFIX, fire_time__lte=end, status__in=LIVE)
    with suppress(AssertionError):  # counted instead: the figures say how many are stuck
        wait_for(lambda: not left.exists(), timeout, "the runs to end")
    return left.count()


@override_settings(SCHEDULES_EXECUTORS=EXECUTORS)  # the editor's add_job checks the names
def test_chaos_loses_no_occurrence_and_records_none_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    seconds = scale("CHAOS_SECONDS", 30)
    count = scale("CHAOS_SCHEDULES", 40)
    size = scale("CHAOS_SCHEDULERS", 3)
    faults = os.environ.get("KILLS_CHAOS_FAULTS", FAULTS).split(",")
    seed = scale("CHAOS_SEED", random.randrange(1_000_000))
    rng = random.Random(seed)
    figures = Figures("chaos")
    spy = LockSpy()
    spy.install(monkeypatch)
    editor = Editor(rng, spy, pause=float(os.environ.get("KILLS_CHAOS_EDIT_PAUSE", "0.05")))
    started = datetime.now(UTC)
    for _ in range(count):
        editor.add(started)
    with ExitStack() as stack:
        group = Group(stack, size)
        group.fill()
        wait_for(lambda: leader_pid() is not None, 60, "a leader")
        wait_for(lambda: Execution.objects.exists(), 60, "the first firing")
        editor.start()
        try:
            injected = run_chaos(group, rng, editor, faults, seconds)
        finally:
            editor.stop()
            connections.close_all()
        end = datetime.now(UTC)
        figures.stuck = settle(end)
        errors = [tracebacks(proc.output()) for proc in group.started if clean(proc.output())]
    verdict = check(editor)
    verdict.figures(figures)
    figures.faults = sum(injected.values())
    figures.runs = Execution.objects.filter(
        job_id__startswith=PREFIX, started_at__isnull=False
    ).count()
    figures.notes.update(
        {
            "seed": seed,
            "faults": dict(injected),
            "edits": len(editor.edits),
            "failed_edits": dict(editor.failed),
            "seconds": round((end - started).total_seconds()),
        }
    )
    figures.record()
    problems = verdict.problems()
    assert not problems, "\n".join([str(problems), *lost_context(editor, verdict)])
    figures.assert_clean()
    assert errors == [], "\n\n".join(errors)
    progress(f"chaos: {verdict.expected} occurrences checked against {len(editor.edits)} edits")


@override_settings(SCHEDULES_EXECUTORS=EXECUTORS)
def test_an_edit_racing_a_claim_ahead_of_a_frozen_leader_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race of the chaos case, made to happen: the leader claims an occurrence of an
    every-second schedule ahead of its instant and is frozen at once; before that instant the
    schedule is paused and resumed (its next run computed again from now); a standby takes
    over seconds later, past the misfire grace of the occurrences after it.

    The standby is frozen too until the schedule's new next run is past its grace and the
    leader's lease has run out: left alone it could take over as soon as the lease expired,
    which may come within the grace of that next run (CI saw no misfire once)."""
    spy = LockSpy()
    spy.install(monkeypatch)
    editor = Editor(random.Random(0), spy)
    job_id = f"{PREFIX}race"
    options = {"misfire_grace_time": 1, "misfire_policy": "skip"}
    every_second = CronTrigger(second="*", timezone="UTC")
    assert editor.edit(
        job_id, "add_job", lambda: api.add_job(JOB, every_second, id=job_id, **options)
    )
    editor.live.append(job_id)
    raced = False
    with ExitStack() as stack:
        group = Group(stack, 2)
        group.fill()
        wait_for(lambda: Execution.objects.filter(job_id=job_id).exists(), 60, "a first firing")
        for _ in range(60):  # the window is the claim's look-ahead: 0.1 s
            leader = group.leader()
            old_epoch = lease().epoch  # type: ignore[union-attr]
            # A claim ahead stands for at most half the look-ahead (50 ms) before its instant:
            # poll often enough to see one on a loaded machine.
            claimed = poll_until(claimed_ahead, 30, "an occurrence claimed ahead", interval=0.005)
            freeze(leader)  # on SQLite, outside a write: our edits would wait for it
            editor.edit(job_id, "pause_job", lambda: api.pause_job(job_id))
            editor.edit(job_id, "resume_job", lambda: api.resume_job(job_id))
            if datetime.now(UTC) < claimed[0][1]:
                raced = True
                break
            leader.signal(signal.SIGCONT)
            time.sleep(1)
        assert raced, "no edit landed between a claim ahead and its instant in 60 tries"
        standby = next(p for p in group.procs if p is not leader)
        freeze(standby)
        after_edits = Schedule.objects.get(job_id=job_id).next_run_at
        assert after_edits is not None
        held = lease()
        assert held is not None and held.expires_at is not None
        # Past the grace (1 s) of the next run the edits computed, with a margin, and past the
        # frozen leader's lease.
        resume_at = max(after_edits + timedelta(seconds=2.5), held.expires_at)
        time.sleep(max((resume_at - datetime.now(UTC)).total_seconds(), 0.0))
        standby.signal(signal.SIGCONT)
        wait_for_takeover(old_epoch)
        time.sleep(2)  # the new leader runs on a little while the old one is frozen
        leader.signal(signal.SIGCONT)
        end = datetime.now(UTC)
        assert settle(end) == 0
    verdict = check(editor)
    figures = Figures("edit racing a claim ahead of a frozen leader", faults=1)
    verdict.figures(figures)
    figures.runs = Execution.objects.filter(job_id=job_id, started_at__isnull=False).count()
    figures.record()
    assert verdict.in_missed > 0  # the takeover came past the grace: misfires recorded
    assert not verdict.problems(), "\n".join(
        [str(verdict.problems()), *lost_context(editor, verdict)]
    )
