"""The race at full size: several `runscheduler` processes against many 1-second schedules.

The issue's proof, run for real: 4 processes, 200 schedules on a 1-second interval, 30 seconds;
then again with the leader SIGKILLed halfway. Every occurrence must have exactly one Execution,
none missing, no duplicates, no error in any log, and a standby must take over within the lease
TTL (plus a second: a standby sees the expiry at its next poll). CI runs a shorter form
(tests/engine/test_processes.py).

    python benchmarks/race.py --database all
    python benchmarks/race.py --database sqlite --sqlite-journal delete --variant plain

Each database runs in a child process of its own (Django is set up once per process) on a
throwaway test database (suffix SCHEDULES_TEST_DB_SUFFIX, default ``_race``), with the test
suite's settings. Besides the counts, the table gives the lateness of the runs (start and end
minus fire time, p50/p99/max), which tells why an occurrence is recorded ``skipped``: with
``max_instances=1`` the claim of the next occurrence finds the previous run not yet finished.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# runscheduler with each log line's level in it (the settings configure no logging), so an
# ERROR line can be counted; WARNING and above, as an operator's default. On SQLite, each
# connection gets the synchronous level asked for (a per-connection PRAGMA) before it opens.
RUNSCHEDULER = (
    "import logging, os, sys; "
    "logging.basicConfig(level=logging.WARNING, "
    "format='%(asctime)s %(levelname)s %(name)s %(message)s'); "
    "from benchmarks.race import configure_sqlite; configure_sqlite(); "
    "from django.core.management import execute_from_command_line; "
    "execute_from_command_line(['manage.py', *sys.argv[1:]])"
)


def configure_sqlite() -> None:
    """Give SQLite connections ``PRAGMA synchronous`` from RACE_SQLITE_SYNCHRONOUS (before
    any connection opens; the test settings set no init_command)."""
    from django.conf import settings

    level = os.environ.get("RACE_SQLITE_SYNCHRONOUS")
    db = settings.DATABASES["default"]
    if level and db["ENGINE"].endswith("sqlite3"):
        db.setdefault("OPTIONS", {})["init_command"] = f"PRAGMA synchronous={level};"


DATABASES = {
    "sqlite": "sqlite:///race.sqlite3",  # the test database's name comes from the settings
    "postgresql": "postgres://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql://root@127.0.0.1:3306/test",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=[*DATABASES, "all"], default="sqlite")
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--lease-ttl", type=float, default=5.0)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--variant", choices=["plain", "sigkill", "both"], default="both")
    parser.add_argument(
        "--sqlite-journal",
        choices=["wal", "delete"],
        default="wal",
        help="SQLite journal mode (WAL is what docs/scheduler.md recommends; delete is the "
        "test suite's default)",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        choices=["normal", "full"],
        default="normal",
        help="SQLite PRAGMA synchronous for every connection (normal is what docs/scheduler.md "
        "recommends with WAL; full, SQLite's default, syncs the disk at every commit)",
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    for name, value in (
        ("--schedules", options.schedules),
        ("--processes", options.processes),
        ("--seconds", options.seconds),
        ("--lease-ttl", options.lease_ttl),
        ("--poll-interval", options.poll_interval),
    ):
        if not value > 0:
            parser.error(f"{name} must be greater than zero, got {value!r}")
    if options.one:
        run_one_database(options)
        return
    names = list(DATABASES) if options.database == "all" else [options.database]
    rows: list[dict[str, Any]] = []
    for name in names:
        print(f"== {name}", flush=True)
        env = {
            **os.environ,
            "DATABASE_URL": DATABASES[name],
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "SCHEDULES_TEST_DB_SUFFIX": os.environ.get("SCHEDULES_TEST_DB_SUFFIX", "_race"),
            "RACE_SQLITE_SYNCHRONOUS": options.sqlite_synchronous.upper(),
            "PYTHONPATH": os.pathsep.join(
                [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
        with subprocess.Popen(
            [sys.executable, __file__, *sys.argv[1:], "--one"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stdout is not None  # piped above
            for line in child.stdout:  # progress as it comes
                if line.startswith("RESULT "):
                    rows.append(json.loads(line[len("RESULT ") :]))
                else:
                    print(line, end="", flush=True)
        if child.returncode:
            print(f"{name}: the run failed (exit code {child.returncode})", flush=True)
    print_table(rows)
    sys.exit(0 if rows and all(ok(r) for r in rows) else 1)


def ok(row: dict[str, Any]) -> bool:
    return (
        row["duplicates"] == 0
        and row["missing"] == 0
        and row["log_errors"] == 0
        and all(code == 0 for code in row.get("exit_codes", []))
        # The lease expires a TTL after its last renewal and a standby sees that at its next
        # poll: the failover target of docs/performance.md, TTL + 1 s.
        and (row["takeover_s"] is None or row["takeover_s"] <= row["lease_ttl"] + 1.0)
    )


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        "database",
        "variant",
        "expected",
        "recorded",
        "dupes",
        "missing",
        "statuses",
        "log errors (warnings)",
        "exits",
        "takeover",
        "start late p50/p99/max",
        "end late p50/p99/max",
    )
    lines = [
        (
            r["database"],
            r["variant"],
            str(r["expected"]),
            str(r["recorded"]),
            str(r["duplicates"]),
            str(r["missing"]),
            " ".join(f"{k}={v}" for k, v in sorted(r["statuses"].items())),
            f"{r['log_errors']} ({r['log_warnings']})",
            " ".join(str(c) for c in r.get("exit_codes", [])),
            "-" if r["takeover_s"] is None else f"{r['takeover_s']:.2f}s (TTL {r['lease_ttl']:g})",
            r["start_late"],
            r["end_late"],
        )
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]
    for line in [head, tuple("-" * w for w in widths), *lines]:
        print("| " + " | ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)) + " |")


# The child: one database.


def run_one_database(options: argparse.Namespace) -> None:
    import django

    configure_sqlite()
    django.setup()
    from django.db import connection, connections

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                # Persistent in the file: every scheduler process opens it in this mode.
                cursor.execute(f"PRAGMA journal_mode={options.sqlite_journal.upper()}")
        label = connection.vendor
        if connection.vendor == "sqlite":
            label = f"sqlite ({options.sqlite_journal}, {options.sqlite_synchronous})"
        variants = ["plain", "sigkill"] if options.variant == "both" else [options.variant]
        for variant in variants:
            row = race(options, variant == "sigkill")
            row["database"] = label
            print("RESULT " + json.dumps(row), flush=True)
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


class Proc:
    """A runscheduler process logging to a file (no pipe to fill up)."""

    def __init__(self, logs: Path, index: int, options: argparse.Namespace) -> None:
        from django.conf import settings

        db = settings.DATABASES["default"]
        env = dict(os.environ)
        env["PYTHONFAULTHANDLER"] = "1"  # SIGABRT prints every thread's stack (stop())
        self.killed = False  # SIGKILLed on purpose (the sigkill variant's leader)
        if db["ENGINE"].endswith("sqlite3"):
            env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
        else:
            env["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + db["NAME"]
        self.log = logs / f"scheduler-{index}.log"
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    RUNSCHEDULER,
                    "runscheduler",
                    "--poll-interval",
                    str(options.poll_interval),
                    "--lease-ttl",
                    str(options.lease_ttl),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def lines(self, *marks: str) -> list[str]:
        text = self.log.read_text(errors="replace")
        return [ln for ln in text.splitlines() if any(m in ln for m in marks)]

    def stop(self) -> int:
        """SIGTERM, as a deploy stops it; a process still there after 90 s gets SIGABRT, so
        its log ends with where each thread was stuck, and its exit code says it hung."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(90)
        except subprocess.TimeoutExpired:
            print(f"  {self.popen.pid} did not stop within 90 s: stacks in {self.log}", flush=True)
            self.popen.send_signal(signal.SIGABRT)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(30)
        return self.popen.returncode


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def race(options: argparse.Namespace, sigkill: bool) -> dict[str, Any]:
    from django_schedules.models import Execution, Schedule, SchedulerLease, SchedulerProcess
    from django_schedules.triggers import IntervalTrigger

    variant = "sigkill" if sigkill else "plain"
    for model in (Execution, Schedule, SchedulerLease, SchedulerProcess):
        model.objects.all().delete()
    logs = Path(tempfile.mkdtemp(prefix=f"race-{variant}-"))
    procs = [Proc(logs, i, options) for i in range(options.processes)]
    takeover: float | None = None
    try:
        # The schedules start once every process is up (each has reported itself), so a slow
        # start-up on a loaded machine is not counted as lateness: several occurrences due at
        # once would be recorded skipped by max_instances.
        up = wait_until(
            lambda: SchedulerProcess.objects.count() >= options.processes, 120, "the processes"
        )
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        trigger = IntervalTrigger(seconds=1, start_date=start).to_dict()
        Schedule.objects.bulk_create(
            Schedule(
                job_id=f"race-{i}",
                func="tests.testapp.jobs.noop",
                trigger=trigger,
                trigger_kind="interval",
                next_run_at=start,
            )
            for i in range(options.schedules)
        )
        seconds = options.seconds + (options.lease_ttl if sigkill else 0.0)
        end = start + timedelta(seconds=seconds)
        print(
            f"{variant}: {options.processes} processes (up in {up:.1f} s), "
            f"{options.schedules} schedules, {seconds:g} s from {start:%H:%M:%S} (logs in {logs})",
            flush=True,
        )
        while datetime.now(UTC) < end + timedelta(seconds=1.5):
            time.sleep(1.0)
            done = Execution.objects.filter(fire_time__gte=start).count()
            print(f"  {datetime.now(UTC):%H:%M:%S}  {done} executions", flush=True)
            if sigkill and takeover is None and datetime.now(UTC) > start + (end - start) / 2:
                takeover = kill_leader(procs)
    finally:
        for p in procs:
            p.stop()
    survivors = [p for p in procs if not p.killed]
    return {
        "variant": variant,
        "lease_ttl": options.lease_ttl,
        "takeover_s": takeover,
        "log_errors": sum(len(p.lines("Traceback", " ERROR ")) for p in survivors),
        "log_warnings": sum(len(p.lines(" WARNING ")) for p in survivors),
        "exit_codes": [p.popen.returncode for p in survivors],
        **tally(start, end, options.schedules),
    }


def lease() -> Any:
    from django_schedules.models import SchedulerLease

    return SchedulerLease.objects.filter(group="default").first()


def kill_leader(procs: list[Proc]) -> float:
    """SIGKILL the lease holder; return the seconds until a standby holds a newer epoch."""
    held = lease()
    victim = next(p for p in procs if p.popen.pid == int(held.owner.split(":")[1]))
    victim.killed = True
    victim.popen.kill()
    took = wait_until(
        lambda: (r := lease()) is not None and r.epoch > held.epoch and bool(r.owner),
        120,
        "a takeover",
    )
    print(f"  leader {victim.popen.pid} SIGKILLed; taken over in {took:.2f} s", flush=True)
    return took


def tally(start: datetime, end: datetime, schedules: int) -> dict[str, Any]:
    from django_schedules.models import Execution

    rows = list(
        Execution.objects.filter(fire_time__gte=start, fire_time__lte=end).values_list(
            "job_id", "fire_time", "status", "started_at", "finished_at"
        )
    )
    per = Counter((job, fire) for job, fire, *_ in rows)
    seconds = int((end - start).total_seconds()) + 1
    expected = {
        (f"race-{i}", start + timedelta(seconds=s))
        for i in range(schedules)
        for s in range(seconds)
    }
    started = [(s - f).total_seconds() for _, f, _, s, _ in rows if s is not None]
    ended = [
        (e - f).total_seconds() for _, f, st, _, e in rows if e is not None and st != "skipped"
    ]
    # Where the skipped occurrences fall (seconds after the start) and the latest starts: a
    # cluster right after a takeover is the gap's occurrences caught up at once, each past the
    # first recorded skipped by max_instances; a spread one is runs falling behind.
    skipped = Counter(int((f - start).total_seconds()) for _, f, st, *_ in rows if st == "skipped")
    print(f"  skipped by second: {dict(sorted(skipped.items())) or '-'}", flush=True)
    latest = sorted((r for r in rows if r[3] is not None), key=lambda r: r[1] - r[3])[:3]
    for job, fire, status, began, _ in latest:
        late = (began - fire).total_seconds()
        print(f"  latest start: {job} @ {fire:%H:%M:%S} began {late:.3f} s late, {status}")
    return {
        "expected": len(expected),
        "recorded": len(rows),
        "duplicates": sum(n - 1 for n in per.values() if n > 1),
        "missing": len(expected - set(per)),
        "statuses": dict(Counter(status for _, _, status, *_ in rows)),
        "start_late": spread(started),
        "end_late": spread(ended),
    }


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    ms = sorted(v * 1000 for v in values)

    def at(q: float) -> float:
        return ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]

    return f"{at(0.5):.0f}/{at(0.99):.0f}/{ms[-1]:.0f} ms"


if __name__ == "__main__":
    main()
