"""What the kill tests share with benchmarks/kills.py: their processes, their load, and the
count of what a fault did to the occurrences.

Sizes come from the environment so the same test runs short in CI and at full length in
benchmarks/kills.py: ``KILLS_<NAME>`` (see ``scale``). With ``KILLS_RESULTS`` set, each test
appends its figures to that file as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection

from django_schedules.models import Execution, Schedule
from django_schedules.triggers import IntervalTrigger
from tests.engine.test_processes import clean, leader_pid, lease, wait_for
from tests.polling import wait_until
from tests.processes import ManageCommand, freeze

POLL = 0.2  # --poll-interval of every scheduler process
TTL = 3.0  # --lease-ttl; tests/kills/settings.py sets SCHEDULES_LEASE_TTL to the same
SETTINGS = "tests.kills.settings"
LIVE = ("pending", "running")


def scale(name: str, short: int) -> int:
    """The size `name` of a test: `short` in CI, ``KILLS_<NAME>`` at full length."""
    return int(os.environ.get(f"KILLS_{name}", short))


def progress(message: str) -> None:
    """A progress line for the full-length runs (pytest -s shows it)."""
    sys.stderr.write(f"[{datetime.now(UTC):%H:%M:%S}] {message}\n")
    sys.stderr.flush()


@dataclass
class Figures:
    """What one test run injected and found; ``record()`` saves it for benchmarks/kills.py."""

    case: str
    runs: int = 0  # runs of a job that really started (each attempt counts)
    firings: int = 0  # Execution rows of the occurrences checked
    faults: int = 0
    duplicates: int = 0  # occurrences with more than one Execution
    lost: int = 0  # occurrences that fell due and have no Execution
    stuck: int = 0  # executions still pending or running once the run settled
    database: str = field(default_factory=lambda: connection.vendor)
    notes: dict[str, Any] = field(default_factory=dict)

    def record(self) -> None:
        progress(
            f"{self.case} on {self.database}: {self.runs} runs, {self.firings} firings, "
            f"{self.faults} faults, {self.duplicates} duplicates, {self.lost} lost, "
            f"{self.stuck} stuck {self.notes}"
        )
        path = os.environ.get("KILLS_RESULTS")
        if path:
            with open(path, "a") as out:
                out.write(json.dumps(asdict(self)) + "\n")

    def assert_clean(self) -> None:
        assert (self.duplicates, self.lost, self.stuck) == (0, 0, 0), self


def scheduler_process(**env: str) -> ManageCommand:
    """A `runscheduler` process on the test database (start it with `with`)."""
    command = ManageCommand("runscheduler", "--poll-interval", str(POLL), "--lease-ttl", str(TTL))
    command.env.update({"DJANGO_SETTINGS_MODULE": SETTINGS, **env})
    return command


def process_of(procs: list[ManageCommand], pid: int | None) -> ManageCommand:
    return next(p for p in procs if p.process is not None and p.process.pid == pid)


def wait_for_takeover(epoch: int, timeout: float = 60) -> float:
    """Wait until a new holder has the lease (a higher epoch); return the seconds it took."""

    def taken() -> bool:
        row = lease()
        return row is not None and row.epoch > epoch and bool(row.owner)

    return wait_for(taken, timeout, f"a new lease holder after epoch {epoch}")


def start_of_load(lead: float = 3.0) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)


def make_load(count: int, start: datetime, prefix: str = "load") -> None:
    """`count` schedules firing every second from `start` (the default 60 s misfire grace
    keeps each occurrence a takeover delays)."""
    trigger = IntervalTrigger(seconds=1, start_date=start).to_dict()
    Schedule.objects.bulk_create(
        Schedule(
            job_id=f"{prefix}-{i}",
            func="tests.testapp.jobs.noop",
            trigger=trigger,
            trigger_kind="interval",
            next_run_at=start,
        )
        for i in range(count)
    )


def settle(end: datetime, prefix: str = "load", timeout: float = 90) -> int:
    """Wait until every occurrence up to `end` is claimed and none of them is still pending or
    running (run, or lost after its heartbeat); return how many are left when time is up."""
    schedules = Schedule.objects.filter(job_id__startswith=f"{prefix}-")
    wait_for(
        lambda: not schedules.filter(next_run_at__lte=end).exists(),
        timeout,
        f"the occurrences up to {end:%H:%M:%S} to be claimed",
    )
    left = Execution.objects.filter(
        job_id__startswith=f"{prefix}-", fire_time__lte=end, status__in=LIVE
    )
    deadline = time.monotonic() + timeout
    while left.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return left.count()


def count_occurrences(
    figures: Figures, start: datetime, end: datetime, count: int, prefix: str = "load"
) -> Counter[str]:
    """Count the Executions of every occurrence of the load in [start, end] into `figures`;
    return their statuses."""
    rows = list(
        Execution.objects.filter(
            job_id__startswith=f"{prefix}-", fire_time__gte=start, fire_time__lte=end
        ).values_list("job_id", "fire_time", "status", "started_at")
    )
    per = Counter((job, fire) for job, fire, *_ in rows)
    seconds = int((end - start).total_seconds()) + 1
    fire_times = [start + timedelta(seconds=s) for s in range(seconds)]
    expected = {(f"{prefix}-{i}", fire) for i in range(count) for fire in fire_times}
    figures.runs += sum(1 for *_, started in rows if started is not None)
    figures.firings += len(rows)
    figures.duplicates += sum(1 for n in per.values() if n > 1)
    figures.lost += len(expected - set(per))
    return Counter(status for _, _, status, _ in rows)


def poll_until(
    predicate: Callable[[], Any], timeout: float, what: str, *, interval: float = 0.05
) -> Any:
    """Poll until `predicate()` returns something true; return it."""
    return wait_until(predicate, timeout=timeout, interval=interval, message=what)


__all__ = [
    "Figures",
    "clean",
    "count_occurrences",
    "freeze",
    "leader_pid",
    "lease",
    "make_load",
    "poll_until",
    "process_of",
    "progress",
    "scale",
    "scheduler_process",
    "settle",
    "start_of_load",
    "wait_for",
    "wait_for_takeover",
]
