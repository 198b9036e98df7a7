"""What the fault tests of tests/workers/ share: a private redis-server, the schedules they
run, and the oracle they end on (0 duplicates, 0 occurrences without a row, 0 rows stuck)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django_schedules import api
from django_schedules.models import Execution, ExecutionStatus
from tests.faults.cases import _missed_range, occurrences
from tests.processes import ManageCommand

from .test_workers import ledger_lines, wait

# benchmarks/handoff.py --faults runs these tests at length: each case runs on this many more
# seconds after its fault, and the oracle appends its figures to SCHEDULES_WORKERS_FIGURES.
RUN_ON = float(os.environ.get("SCHEDULES_WORKERS_RUN_ON", "0"))
FIGURES = os.environ.get("SCHEDULES_WORKERS_FIGURES", "")


def run_on(*processes: ManageCommand) -> None:
    """Let the case run `RUN_ON` more seconds after its fault (0 in CI), failing early if a
    process died."""
    deadline = time.monotonic() + RUN_ON
    while time.monotonic() < deadline:
        for process in processes:
            code = process.process.poll() if process.process is not None else None
            assert code is None, f"{' '.join(process.args[2:5])} exited {code}\n{process.output()}"
        time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A redis-server on a port of its own, keeping nothing on disk (never the machine's)."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.directory = port, directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"the private redis-server on {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


class Schedules:
    """`count` schedules of `engine` firing every second from a whole second a little ahead
    (so the occurrences each should have are known), each run a ledger line."""

    def __init__(
        self, engine: str, ledger: Path, count: int = 5, seconds: float = 0.0, **options: object
    ) -> None:
        self.start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        self.job_ids = [f"{engine}-{n}" for n in range(count)]
        self.ledger = ledger
        kwargs = {"path": str(ledger), "seconds": seconds}
        for job_id in self.job_ids:
            api.add_job(
                "workers.ledger", "interval", seconds=1, start_date=self.start, kwargs=kwargs,
                id=job_id, executor=engine, **options,
            )  # fmt: skip


def settle_and_check(
    schedules: Schedules, stopped_at: float, *processes: ManageCommand
) -> Counter[str]:
    """Wait until no row due before `stopped_at` is pending or running; then:

    - no duplicate: each (execution, attempt) ran at most once, and each occurrence has one row;
    - no occurrence without a row: every occurrence from the start to `stopped_at` has its
      row (a ``missed`` row stands for the range its reason names);
    - no row stuck, and each row tells the truth: a succeeded row ran, a failed one says why.

    Return the statuses of those rows."""
    end = datetime.fromtimestamp(stopped_at - 1, UTC)
    due = Execution.objects.filter(fire_time__lte=end)
    wait(
        lambda: not due.filter(status__in=["pending", "running"]).exists(),
        "every row to end",
        *processes,
        timeout=180,
    )
    rows = list(due)
    ran = Counter((int(line[0]), int(line[1])) for line in ledger_lines(schedules.ledger))
    assert max(ran.values(), default=0) <= 1, ran.most_common(3)
    ran_ids = {pk for pk, _ in ran}
    expected = occurrences(schedules.start, end, 1.0)
    cover: Counter[tuple[str, datetime]] = Counter()
    for row in rows:
        fire = row.fire_time.astimezone(UTC)
        covered = [fire]
        if row.status == ExecutionStatus.MISSED:
            covered = _missed_range(row.reason, expected) or covered
        cover.update((row.job_id, each) for each in covered)
        if row.status == ExecutionStatus.SUCCEEDED:
            assert row.pk in ran_ids, (row.pk, row.fire_time)
        elif row.status != ExecutionStatus.SUCCEEDED:
            assert row.reason, (row.pk, row.status)
    assert [key for key, n in cover.items() if n > 1] == []
    wanted = {(job_id, fire) for job_id in schedules.job_ids for fire in expected}
    assert sorted(wanted - set(cover))[:5] == [], "occurrences without a row"
    statuses = Counter(row.status for row in rows)
    if FIGURES:
        with open(FIGURES, "a") as out:
            out.write(json.dumps({
                "case": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
                "database": connection_vendor(), "occurrences": len(wanted),
                "runs": sum(ran.values()), "duplicates": 0, "without_row": 0, "stuck": 0,
                "statuses": dict(statuses),
            }) + "\n")  # fmt: skip
    return statuses


def connection_vendor() -> str:
    from django.db import connection

    return str(connection.vendor)


def lateness(schedules: Schedules, after: float) -> list[float]:
    """Start minus fire time, in seconds, of the first attempts of rows fired after `after`."""
    fires = {
        pk: fire.timestamp()
        for pk, fire in Execution.objects.filter(
            fire_time__gt=datetime.fromtimestamp(after, UTC)
        ).values_list("pk", "fire_time")
    }
    return [
        float(line[2]) - fires[int(line[0])]
        for line in ledger_lines(schedules.ledger)
        if int(line[0]) in fires and line[1] == "1"
    ]
