"""Real `runscheduler` processes against the test database: races, takeover, fencing, signals.

Sizes default small so the slow suite stays short; SCHEDULES_RACE_SCHEDULES and
SCHEDULES_RACE_SECONDS scale the race up (the issue's figure: 200 schedules for 30 seconds).
SCHEDULES_TEST_SQLITE_WAL=1 switches the SQLite test database to WAL mode first (the mode
docs/scheduler.md recommends for SQLite under load).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from django_schedules.models import Execution, Schedule, SchedulerLease
from tests.databases import database_url
from tests.polling import seconds_until
from tests.processes import freeze, stacks_of

from .conftest import interval_schedules

ROOT = Path(__file__).resolve().parents[2]
SCHEDULES = int(os.environ.get("SCHEDULES_RACE_SCHEDULES", "50"))
SECONDS = float(os.environ.get("SCHEDULES_RACE_SECONDS", "8"))
TTL = 3.0

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Proc:
    """A runscheduler subprocess whose output goes to a file (no pipe left open)."""

    def __init__(self, tmp_path: Path, index: int, *args: str) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "PYTHONFAULTHANDLER": "1",  # stacks_of(): where a process that will not stop is
        }
        self.log = tmp_path / f"scheduler-{index}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "django",
                    "runscheduler",
                    "--poll-interval",
                    "0.2",
                    "--lease-ttl",
                    str(TTL),
                    *args,
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float = 60) -> int:
        return self.popen.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(30)


def wait_for(predicate, timeout: float, what: str) -> float:
    """Poll until `predicate()`; return the seconds it took."""
    return seconds_until(predicate, timeout=timeout, message=what)


def lease() -> SchedulerLease | None:
    return SchedulerLease.objects.filter(group="default").first()


def leader_pid() -> int | None:
    row = lease()
    if row is None or not row.owner:
        return None
    return int(row.owner.split(":")[1])


def use_wal_if_asked() -> None:
    """SCHEDULES_TEST_SQLITE_WAL=1: WAL mode, before any process opens the database."""
    from django.db import connection

    if connection.vendor == "sqlite" and os.environ.get("SCHEDULES_TEST_SQLITE_WAL"):
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")  # persistent: every process gets it


def make_schedules(count: int, start: datetime) -> None:
    interval_schedules(count, start, seconds=1, func="tests.testapp.jobs.noop", prefix="race-")


def assert_each_occurrence_once(start: datetime, end: datetime, count: int) -> Counter[str]:
    """Every occurrence of every schedule in [start, end] has exactly one Execution."""
    rows = list(
        Execution.objects.filter(fire_time__gte=start, fire_time__lte=end).values_list(
            "job_id", "fire_time", "status"
        )
    )
    per = Counter((job, fire) for job, fire, _ in rows)
    assert [k for k, n in per.items() if n > 1] == []
    seconds = int((end - start).total_seconds()) + 1
    expected = {
        (f"race-{i}", start + timedelta(seconds=s)) for i in range(count) for s in range(seconds)
    }
    missing = expected - set(per)
    assert sorted(missing)[:5] == [], f"{len(missing)} occurrences have no Execution"
    return Counter(status for _, _, status in rows)


def clean(output: str) -> list[str]:
    return [
        line
        for line in output.splitlines()
        if "Traceback" in line or " ERROR " in line or line.startswith("ERROR")
    ]


def start_all(tmp_path: Path, n: int) -> list[Proc]:
    use_wal_if_asked()
    procs = [Proc(tmp_path, i) for i in range(n)]
    wait_for(lambda: leader_pid() is not None, 60, "a leader")
    return procs


def stop_all(procs: list[Proc]) -> None:
    try:
        for p in procs:
            if p.popen.poll() is None:
                p.signal(signal.SIGTERM)
        for p in procs:
            if p.popen.returncode is None or p.popen.poll() is None:
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    raise AssertionError(
                        f"{p.pid} did not stop within 60 s of SIGTERM:\n"
                        + stacks_of(p.popen, p.output)
                    ) from None
                assert p.popen.returncode == 0, p.output()
    finally:
        for p in procs:
            p.kill()


def schedules_from_soon(count: int) -> datetime:
    """Make `count` schedules starting two seconds from now; return the start. Called once
    the processes are up, so a slow start-up on a loaded machine does not make the first
    occurrences late (several due at once would be recorded skipped by max_instances)."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    make_schedules(count, start)
    return start


def test_four_schedulers_fire_every_occurrence_exactly_once(tmp_path: Path) -> None:
    procs = start_all(tmp_path, 4)
    try:
        start = schedules_from_soon(SCHEDULES)
        end = start + timedelta(seconds=SECONDS)
        wait_for(lambda: datetime.now(UTC) > end + timedelta(seconds=1.5), SECONDS + 60, "end")
    finally:
        stop_all(procs)
    statuses = assert_each_occurrence_once(start, end, SCHEDULES)
    odd = list(
        Execution.objects.exclude(status="succeeded")
        .order_by("fire_time")
        .values_list("job_id", "fire_time", "status", "reason", "epoch", "created_at")[:5]
    )
    # Steady state is all "succeeded"; on a loaded machine a run can still be pending when the
    # next occurrence is claimed, and max_instances=1 records that one as skipped: still one
    # Execution per occurrence.
    assert set(statuses) <= {"succeeded", "skipped"}, (statuses, odd)
    assert all(reason.startswith("max_instances reached") for *_, reason, _, _ in odd if reason)
    for p in procs:
        assert clean(p.output()) == []


def test_a_standby_takes_over_within_the_ttl_when_the_leader_is_killed(tmp_path: Path) -> None:
    procs = start_all(tmp_path, 4)
    try:
        start = schedules_from_soon(SCHEDULES)
        wait_for(lambda: datetime.now(UTC) > start + timedelta(seconds=SECONDS / 2), 60, "half")
        pid = leader_pid()
        epoch = lease().epoch  # type: ignore[union-attr]
        victim = next(p for p in procs if p.pid == pid)
        victim.signal(signal.SIGKILL)
        victim.wait(30)
        took = wait_for(
            lambda: (row := lease()) is not None and row.epoch > epoch and bool(row.owner),
            60,
            "a takeover",
        )
        assert took <= TTL + 2.0, took
        end = start + timedelta(seconds=SECONDS + TTL)
        wait_for(lambda: datetime.now(UTC) > end + timedelta(seconds=1.5), 60, "end")
    finally:
        stop_all([p for p in procs if p.popen.poll() is None])
        for p in procs:
            p.kill()
    statuses = assert_each_occurrence_once(start, end, SCHEDULES)
    # The occurrences due while nobody led are recorded too: run, or skipped by max_instances
    # while an earlier one of the same schedule was still pending; a run cut by SIGKILL is lost.
    assert set(statuses) <= {"succeeded", "skipped", "lost", "running"}, statuses
    for p in procs:
        if p is not victim:
            assert clean(p.output()) == []


def test_a_leader_stopped_past_its_ttl_fires_nothing_when_resumed(tmp_path: Path) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    make_schedules(10, start)
    procs = start_all(tmp_path, 2)
    try:
        wait_for(lambda: Execution.objects.exists(), 60, "the first firing")
        pid = leader_pid()
        old_epoch = lease().epoch  # type: ignore[union-attr]
        stopped = next(p for p in procs if p.pid == pid)
        freeze(stopped)
        wait_for(lambda: lease().epoch > old_epoch, 60, "the standby to take over")  # type: ignore[union-attr]
        time.sleep(0.5)  # let the new leader fire a little (not a correctness wait)
        stopped.signal(signal.SIGCONT)
        resumed = datetime.now(UTC)
        # Give the resumed process several of its ticks: each must find itself fenced out.
        wait_for(lambda: datetime.now(UTC) > resumed + timedelta(seconds=3), 60, "its ticks")
        started_by_old = Execution.objects.filter(
            worker__contains=f":{pid}:", started_at__gte=resumed
        ).count()
        claimed_by_old = Execution.objects.filter(epoch=old_epoch, created_at__gte=resumed).count()
        assert (started_by_old, claimed_by_old) == (0, 0)
        assert lease().epoch > old_epoch and leader_pid() != pid  # type: ignore[union-attr]
    finally:
        stop_all(procs)
    per = Counter(Execution.objects.values_list("job_id", "fire_time"))
    assert max(per.values()) == 1


@pytest.mark.parametrize("extra", [[], ["--asyncio"]], ids=["blocking", "asyncio"])
def test_sigterm_releases_the_lease_and_exits_zero(tmp_path: Path, extra: list[str]) -> None:
    proc = Proc(tmp_path, 0, *extra)
    wait_for(lambda: leader_pid() is not None, 60, "a leader")
    try:
        proc.signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        proc.kill()
    row = lease()
    assert row is not None and row.owner == "" and row.expires_at is None
    assert "scheduler stopped" in proc.output()


def test_a_standby_takes_over_at_once_after_a_clean_shutdown(tmp_path: Path) -> None:
    procs = start_all(tmp_path, 2)
    try:
        pid = leader_pid()
        leader = next(p for p in procs if p.pid == pid)
        epoch = lease().epoch  # type: ignore[union-attr]
        leader.signal(signal.SIGTERM)
        took = wait_for(lambda: lease().epoch > epoch, 30, "the standby")  # type: ignore[union-attr]
        assert took < 2.0, took  # within a poll or two, not a TTL
        assert leader.wait(60) == 0
    finally:
        stop_all(procs)


@pytest.mark.parametrize(
    ("extra", "thread"),
    [([], "'schedules-default-"), (["--asyncio"], "'MainThread'")],
    ids=["blocking", "asyncio"],
)
def test_an_async_job_runs_on_the_event_loop_of_runscheduler_asyncio(
    tmp_path: Path, extra: list[str], thread: str
) -> None:
    from django_schedules.triggers import IntervalTrigger

    now = datetime.now(UTC)
    Schedule.objects.create(
        job_id="where",
        func="scenarios.where",  # returns the name of the thread its coroutine runs in
        trigger=IntervalTrigger(seconds=3600, start_date=now).to_dict(),
        trigger_kind="interval",
        next_run_at=now,
    )
    proc = Proc(tmp_path, 0, *extra)
    try:
        wait_for(
            lambda: Execution.objects.exclude(status__in=["pending", "running"]).exists(),
            60,
            "the run",
        )
        proc.signal(signal.SIGTERM)
        assert proc.wait(60) == 0, proc.output()
    finally:
        proc.kill()
    execution = Execution.objects.get()
    # asyncio.run() runs the --asyncio loop in the main thread; without it, a private loop in
    # the thread pool's worker thread.
    assert execution.status == "succeeded", (execution.reason, proc.output())
    assert execution.result.startswith(thread), execution.result
