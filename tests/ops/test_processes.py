"""Real processes: `runscheduler` reports itself, and `schedulerstatus` sees it come and go."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from django_schedules.models import SchedulerLease
from tests.polling import seconds_until
from tests.processes import REPO_ROOT, ManageCommand, command_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TTL = 3.0
RUN = ("runscheduler", "--poll-interval", "0.2", "--lease-ttl", str(TTL))


def status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", "schedulerstatus", *args],
        env=command_env(SCHEDULES_LEASE_TTL=str(TTL)),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    return seconds_until(predicate, timeout=timeout, interval=0.1, message=what)


def test_schedulerstatus_sees_a_scheduler_start_and_stop() -> None:
    with ManageCommand(*RUN) as scheduler:
        wait_for(lambda: status().returncode == 0, 60, "schedulerstatus to exit 0")
        scheduler.signal(signal.SIGTERM)
        assert scheduler.process is not None
        assert scheduler.process.wait(30) == 0, scheduler.output()
    result = status()
    assert result.returncode == 1, result.stdout
    assert "no scheduler process of group 'default' has reported" in result.stdout


def test_after_the_leader_is_killed_the_standby_shows_as_leader() -> None:
    with ManageCommand(*RUN) as first, ManageCommand(*RUN) as second:
        procs = {first.process.pid: first, second.process.pid: second}  # type: ignore[union-attr]

        def both_reported() -> bool:
            data = json.loads(status("--json").stdout)
            return data["ok"] and data["leader"] is not None and len(data["standbys"]) == 1

        wait_for(both_reported, 60, "a leader and a standby")
        owner = SchedulerLease.objects.get(group="default").owner
        victim = procs[int(owner.split(":")[1])]
        survivor = next(p for p in procs.values() if p is not victim)
        victim.signal(signal.SIGKILL)
        victim.process.wait(30)  # type: ignore[union-attr]

        def survivor_leads() -> bool:
            data = json.loads(status("--json").stdout)
            leader = data["leader"]
            return bool(data["ok"]) and leader is not None and leader["pid"] == survivor.process.pid  # type: ignore[union-attr]

        took = wait_for(survivor_leads, 60, "the standby to show as leader")
        # TTL for the lease to expire, then a poll interval to take it; the margin covers
        # starting `schedulerstatus` (a Django start-up per poll).
        assert took <= TTL + 5.0, took
