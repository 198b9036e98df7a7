"""The leader is SIGSTOPped past its lease and resumed (SIGCONT), again and again under load:
each time a standby takes over with a higher epoch, and the resumed process claims and starts
nothing, becomes a standby, and is the next one frozen when it leads again. No duplicate, no
occurrence without an Execution, none left pending or running.
"""

from __future__ import annotations

import signal
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from django_schedules.models import Execution

from .harness import (
    TTL,
    Figures,
    clean,
    count_occurrences,
    freeze,
    leader_pid,
    lease,
    make_load,
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


def test_a_leader_frozen_past_its_lease_fires_nothing_when_resumed(tmp_path: Path) -> None:
    cycles, count = scale("FREEZES", 2), scale("FREEZE_SCHEDULES", 50)
    figures = Figures("leader frozen past its lease")
    start = start_of_load()
    make_load(count, start)
    fenced: list[tuple[int, int]] = []
    tries: list[int] = []
    with ExitStack() as stack:
        procs = [stack.enter_context(scheduler_process()) for _ in range(2)]
        wait_for(lambda: leader_pid() is not None, 60, "a leader")
        wait_for(lambda: Execution.objects.exists(), 60, "the first firing")
        for i in range(cycles):
            pid = leader_pid()
            old_epoch = lease().epoch  # type: ignore[union-attr]
            frozen = process_of(procs, pid)
            tries.append(freeze(frozen))
            took = wait_for_takeover(old_epoch)
            time.sleep(0.5)  # the new leader fires a little while the old one is frozen
            frozen.signal(signal.SIGCONT)
            resumed = datetime.now(UTC)
            figures.faults += 1
            time.sleep(TTL)  # several of its ticks: each must find itself fenced out
            started = Execution.objects.filter(worker__contains=f":{pid}:", started_at__gte=resumed)
            claimed = Execution.objects.filter(epoch=old_epoch, created_at__gte=resumed)
            fenced.append((started.count(), claimed.count()))
            assert leader_pid() != pid, "the resumed process leads again at once"
            progress(f"freeze {i + 1}/{cycles}: taken over in {took:.2f} s, resumed fenced out")
        end = datetime.now(UTC).replace(microsecond=0)
        figures.stuck = settle(end)
        for proc in procs:
            assert clean(proc.output()) == [], proc.output()
    statuses = count_occurrences(figures, start, end, count)
    figures.notes = {"statuses": dict(statuses), "max_freeze_tries": max(tries)}
    figures.record()
    figures.assert_clean()
    assert fenced == [(0, 0)] * cycles  # nothing claimed or started by a resumed leader
