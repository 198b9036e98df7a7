"""The leader is SIGKILLed in the middle of its claim transaction, after the UPDATE that moves a
batch of schedules on or after the INSERT of their executions, never committed (the hook of
tests/kills/claimhook.py stops it there). A standby takes over within the lease TTL; the claim
is rolled back whole and made again by the new leader: no duplicate, no occurrence without an
Execution, none left pending or running.
"""

from __future__ import annotations

import signal
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .harness import (
    TTL,
    Figures,
    clean,
    count_occurrences,
    leader_pid,
    lease,
    make_load,
    poll_until,
    process_of,
    progress,
    scale,
    scheduler_process,
    settle,
    start_of_load,
    wait_for,
    wait_for_takeover,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

POINTS = ("update", "insert")


def paused_in_claim(hook: Path, point: str) -> tuple[int, str]:
    """Arm the hook at `point` and wait for a process to stop there; return its pid and the
    statement it stopped after."""
    (hook / "armed").write_text(point)
    paused = poll_until(lambda: next(hook.glob("paused-*"), None), 60, f"a claim to reach {point}")
    statement = poll_until(paused.read_text, 10, "the hook's note")
    paused.unlink()
    return int(paused.name.removeprefix("paused-")), statement


def test_a_leader_killed_inside_its_claim_duplicates_and_loses_nothing(tmp_path: Path) -> None:
    kills, count = scale("CLAIM_KILLS", 3), scale("CLAIM_SCHEDULES", 50)
    figures = Figures("leader killed while claiming")
    hook = tmp_path / "hook"
    hook.mkdir()
    start = start_of_load()
    make_load(count, start)
    takeovers: list[float] = []
    with ExitStack() as stack:
        procs = [
            stack.enter_context(scheduler_process(KILLS_CLAIM_HOOK=str(hook))) for _ in range(2)
        ]
        killed = []
        wait_for(lambda: leader_pid() is not None, 60, "a leader")
        wait_for(lambda: datetime.now(UTC) > start, 60, "the load to fall due")
        for i in range(kills):
            point = POINTS[i % len(POINTS)]
            epoch = lease().epoch  # type: ignore[union-attr]
            try:
                pid, statement = paused_in_claim(hook, point)
            except AssertionError as exc:
                raise AssertionError("\n".join([str(exc), *(p.output() for p in procs)])) from exc
            assert statement.startswith(point), statement
            assert pid == leader_pid(), "only the leader claims"
            victim = process_of(procs, pid)
            victim.signal(signal.SIGKILL)
            assert victim.process is not None and victim.process.wait(30) == -signal.SIGKILL
            took = wait_for_takeover(epoch)
            takeovers.append(took)
            figures.faults += 1
            progress(f"kill {i + 1}/{kills} in the claim's {point}: taken over in {took:.2f} s")
            procs.remove(victim)
            killed.append(victim)
            procs.append(stack.enter_context(scheduler_process(KILLS_CLAIM_HOOK=str(hook))))
            time.sleep(1.0)  # let the new leader fire a little before the next kill
        end = datetime.now(UTC).replace(microsecond=0)
        figures.stuck = settle(end)
        for proc in procs:
            assert clean(proc.output()) == [], proc.output()
    statuses = count_occurrences(figures, start, end, count)
    figures.notes = {"max_takeover_s": round(max(takeovers), 2), "statuses": dict(statuses)}
    figures.record()
    figures.assert_clean()
    # A takeover waits for the dead leader's lease to expire by the database's clock: one TTL
    # after its last renewal, plus a standby's poll (generous bounds: a loaded machine).
    assert max(takeovers) <= 2 * TTL + 2, takeovers
    # The runs the killed leaders had in their thread pools are lost; the rest ran.
    assert set(statuses) <= {"succeeded", "skipped", "lost"}, statuses


def test_a_leader_frozen_inside_its_claim_does_not_hold_the_lease_row(tmp_path: Path) -> None:
    # The claim locks the lease row; a leader frozen (SIGSTOP) inside it would keep every
    # standby out for as long as it stays frozen. The server ends its transaction once it
    # has been idle a lease TTL (store.abort_idle_transactions): a standby takes over, and
    # the leader, resumed, finds its transaction gone and fires nothing of it.
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("SQLite: a frozen writer holds the file's lock (docs/guarantees.md)")
    count = scale("CLAIM_SCHEDULES", 50)
    figures = Figures("leader frozen inside its claim")
    hook = tmp_path / "hook"
    hook.mkdir()
    start = start_of_load()
    make_load(count, start)
    with ExitStack() as stack:
        procs = [
            stack.enter_context(scheduler_process(KILLS_CLAIM_HOOK=str(hook))) for _ in range(2)
        ]
        wait_for(lambda: leader_pid() is not None, 60, "a leader")
        wait_for(lambda: datetime.now(UTC) > start, 60, "the load to fall due")
        epoch = lease().epoch  # type: ignore[union-attr]
        pid, statement = paused_in_claim(hook, "insert")
        assert statement.startswith("insert"), statement
        frozen = process_of(procs, pid)
        frozen.signal(signal.SIGSTOP)
        figures.faults += 1
        took = wait_for_takeover(epoch)  # generous deadline; TTL + TTL is the expected figure
        progress(f"frozen in the claim's insert: taken over in {took:.2f} s")
        time.sleep(1.0)  # the new leader fires while the old one is frozen
        frozen.signal(signal.SIGCONT)
        (hook / f"release-{pid}").write_text("")
        time.sleep(2.0)  # the resumed leader finds its transaction ended, and steps down
        end = datetime.now(UTC).replace(microsecond=0)
        figures.stuck = settle(end)
        assert leader_pid() != pid
        for proc in procs:
            assert clean(proc.output()) == [], proc.output()
    statuses = count_occurrences(figures, start, end, count)
    figures.notes = {"takeover_s": round(took, 2), "statuses": dict(statuses)}
    figures.record()
    figures.assert_clean()
    assert set(statuses) <= {"succeeded", "skipped", "lost"}, statuses
