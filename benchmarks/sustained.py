"""Sustained throughput, end to end: runs that start on time and are recorded (issue 16).

For each rate R (runs due a second) and each system: R x WINDOW interval schedules on a
WINDOW-second interval, their starts spread evenly over the window, so R fall due every
second for DURATION seconds. The job records the instant its first line ran; a run counts
when it started and (ours, django-apscheduler) its row was written.

- ``ours``: one real ``manage.py runscheduler`` with the default settings (thread pool),
  a separate process; its job returns ``time.time()``, stored as the Execution's result, so
  lateness is that minus the fire time, read from the rows (an unrecorded run is not counted).
- ``aps``: django-apscheduler (APScheduler 3's BackgroundScheduler over DjangoJobStore, which
  writes a DjangoJobExecution row per run), in this process.
- ``aps-memory``: APScheduler 3 with its in-memory store, in this process.

The ceiling of a system is the highest rate with p99 lateness at most 20 ms and at least 99.5%
of the due runs started. Prints one JSON line per (system, rate) on stdout and a table, with
each system's ceiling and ours against the peers' at each rate, on stderr.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_schedules \\
        benchmarks/.venv/bin/python -m benchmarks.sustained --rates 100,400,1600 --duration 60

``--profile DIR`` records our scheduler process with py-spy (its collapsed stacks in DIR, and
the frames with the most samples printed).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from benchmarks import jobs  # noqa: E402
from benchmarks.measure import aps_jobs, aps_scheduler, clear, emit, percentiles, progress  # noqa: E402
from django_schedules import store  # noqa: E402
from django_schedules.models import Execution, Schedule, SchedulerLease  # noqa: E402
from django_schedules.triggers import IntervalTrigger  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SYSTEMS = ("ours", "aps", "aps-memory")
P99_LIMIT_MS = 20.0
STARTED_MIN = 0.995


def occurrences(starts: list[datetime], period: float, end: datetime) -> int:
    """The occurrences of the interval schedules starting at `starts` before `end`."""
    total = 0
    for s in starts:
        span = (end - s).total_seconds()
        if span > 0:
            total += int((span - 1e-9) // period) + 1
    return total


def spread(rate: int, window: float, lead: float) -> tuple[list[datetime], float]:
    count = int(rate * window)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
    step = window / count
    return [start + timedelta(seconds=i * step) for i in range(count)], window


def run_burst(count: int, options: argparse.Namespace) -> dict[str, Any]:
    """`count` schedules due at one instant (misfire_grace_time=None: none is folded into a
    missed row): the time until the last run started, and until its row was written, beside
    the claim alone (until the last Execution row was created), all from the same run."""
    clear("ours")
    proc, log_path = start_scheduler()
    try:
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3 + count * 0.0005)
        trigger = IntervalTrigger(hours=1, start_date=due, timezone="UTC").to_dict()
        Schedule.objects.bulk_create(
            [
                Schedule(
                    job_id=f"b-{i}",
                    func="bench.stamp",
                    trigger=trigger,
                    trigger_kind="interval",
                    next_run_at=due,
                    misfire_grace_time=None,
                )
                for i in range(count)
            ],
            batch_size=5000,
        )
        # Written past the API: say so, as the API does (else the leader, asleep on LISTEN
        # until its next upkeep, may only see the burst after its instant).
        store.notify_change()
        _sleep_until(due)
        rows = Execution.objects.filter(fire_time=due)
        deadline = time.monotonic() + options.drain + count / 500
        while time.monotonic() < deadline:
            done = rows.filter(status="succeeded").count()
            progress(f"  {done}/{count} recorded")
            if done >= count:
                break
            time.sleep(2.0)
    finally:
        err = stop_scheduler(proc, log_path)
    stats = list(rows.values_list("created_at", "result", "finished_at", "status"))
    started = [float(r) for _c, r, _f, s in stats if s == "succeeded" and r]
    return {
        "count": count,
        "executions": len(stats),
        "started": len(started),
        "claim_only_s": max((c for c, *_ in stats), default=due).timestamp() - due.timestamp(),
        "last_start_s": max(started, default=due.timestamp()) - due.timestamp(),
        "last_recorded_s": max((f for *_x, f, _s in stats if f), default=due).timestamp()
        - due.timestamp(),
        "errors": [line for line in err.splitlines() if "Traceback" in line][:5],
    }


def start_scheduler() -> tuple[subprocess.Popen[str], Path]:
    """A real `runscheduler` with the benchmark's settings; returns once it leads."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    # Its stderr goes to a file, not a pipe: a full pipe would stall the scheduler.
    log_path = Path(tempfile.mkdtemp()) / "runscheduler.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "django", "runscheduler"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
    # The schedules start once it leads: its start-up is not what is measured.
    deadline = time.monotonic() + 120
    while not SchedulerLease.objects.exclude(owner="").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("runscheduler did not take the lease")
        time.sleep(0.1)
    return proc, log_path


def stop_scheduler(proc: subprocess.Popen[str], log_path: Path) -> str:
    """SIGTERM, wait, and return what it wrote on stderr."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return log_path.read_text()


def run_ours(rate: int, options: argparse.Namespace) -> dict[str, Any]:
    clear("ours")
    proc, log_path = start_scheduler()
    lead = 3.0 + rate * options.window * 0.001  # time to insert them, on a busy machine
    starts, period = spread(rate, options.window, lead)
    Schedule.objects.bulk_create(
        [
            Schedule(
                job_id=f"s-{i}",
                func="bench.stamp",
                trigger=IntervalTrigger(seconds=period, start_date=s, timezone="UTC").to_dict(),
                trigger_kind="interval",
                next_run_at=s,
            )
            for i, s in enumerate(starts)
        ],
        batch_size=2000,
    )
    end = starts[0] + timedelta(seconds=options.duration)
    spy = None
    if options.profile:
        out = Path(options.profile) / f"ours-{connection.vendor}-{rate}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        spy = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw",
             "--rate", "200", "--threads", "--subprocesses", "--nonblocking",
             "-o", str(out), "--pid", str(proc.pid),
             "--duration", str(int(options.duration + lead))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        _sleep_until(end)
        due = Execution.objects.filter(fire_time__lt=end)
        drain = time.monotonic() + options.drain
        while time.monotonic() < drain and due.filter(status__in=["pending", "running"]).exists():
            time.sleep(0.5)
    finally:
        err = stop_scheduler(proc, log_path)
        if spy is not None:
            spy.wait(timeout=120)
    rows = list(due.values_list("status", "fire_time", "result"))
    late = [float(r) - f.timestamp() for s, f, r in rows if s == "succeeded" and r]
    statuses = Counter(s for s, _f, _r in rows)
    expected = occurrences(starts, period, end)
    errors = [line for line in err.splitlines() if "Traceback" in line or "ERROR" in line]
    return {
        "expected": expected,
        "started": len(late),
        "statuses": dict(statuses),
        "late": late,
        "errors": errors[:5],
        "profile": str(out) if options.profile else None,
    }


def run_aps(system: str, rate: int, options: argparse.Namespace) -> dict[str, Any]:
    store = "django" if system == "aps" else "memory"
    if store == "django":
        clear("aps")
    lead = 4.0 + rate * options.window * (0.003 if store == "django" else 0.0002)
    starts, period = spread(rate, options.window, lead)
    label = f"{system}:{rate}"
    jobs.STARTS.pop(label, None)
    sched = aps_scheduler(store)
    sched.start(paused=True)
    aps_jobs(sched, label, starts, period)
    sched.resume()
    end = starts[0] + timedelta(seconds=options.duration)
    _sleep_until(end + timedelta(seconds=min(options.drain, 2.0)))
    sched.shutdown(wait=False)
    expected = occurrences(starts, period, end)
    late = jobs.STARTS.get(label, [])[:expected]
    if store == "django":
        clear("aps")
    return {"expected": expected, "started": len(late), "late": late, "errors": []}


def _sleep_until(instant: datetime) -> None:
    while (left := (instant - datetime.now(UTC)).total_seconds()) > 0:
        time.sleep(min(left, 1.0))


def top_frames(path: str, limit: int = 15) -> list[tuple[str, float]]:
    """The frames with the most samples (self and below) in py-spy's collapsed stacks."""
    counts: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        for frame in set(stack.split(";")):
            counts[frame] += int(n)
    return [(frame, n / max(total, 1)) for frame, n in counts.most_common(limit)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,200,400,800,1600,3200")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (60)")
    parser.add_argument("--window", type=float, default=5.0, help="the interval, seconds (5)")
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to let runs end")
    parser.add_argument("--profile", default="", help="a directory for py-spy's stacks")
    parser.add_argument("--burst", type=int, default=0, help="instead: N due at one instant")
    parser.add_argument(
        "--executor", default="threadpool", choices=["threadpool", "processpool"], help="ours'"
    )
    options = parser.parse_args()
    os.environ["BENCH_EXECUTOR"] = options.executor  # read by our scheduler's settings
    if options.burst:
        progress(f"{connection.vendor}: burst of {options.burst} due at one instant")
        got = run_burst(options.burst, options)
        emit("burst_end_to_end_s", "ours", got["last_start_s"], options.burst, **got)
        progress(
            f"  claimed all in {got['claim_only_s']:.1f} s (claim only); last run started at "
            f"{got['last_start_s']:.1f} s, last recorded at {got['last_recorded_s']:.1f} s; "
            f"{got['started']}/{options.burst} started"
        )
        SchedulerLease.objects.all().delete()
        return
    rates = [int(r) for r in options.rates.split(",")]
    systems = options.systems.split(",")
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for rate in rates:
        for system in systems:
            progress(f"{connection.vendor}: {system} at {rate}/s for {options.duration:g}s")
            got = run_ours(rate, options) if system == "ours" else run_aps(system, rate, options)
            stats = percentiles(got["late"])
            started = got["started"] / max(got["expected"], 1)
            row = {
                "rate": rate,
                "duration": options.duration,
                "executor": options.executor if system == "ours" else None,
                "expected": got["expected"],
                "started": got["started"],
                "started_share": round(started, 4),
                "min_ms": min(got["late"]) * 1000 if got["late"] else None,
                **stats,
                **{k: v for k, v in got.items() if k in ("statuses", "errors", "profile")},
            }
            results[(system, rate)] = row
            emit("sustained_p99_ms", system, stats.get("p99"), rate, **row)
            progress(
                f"  started {got['started']}/{got['expected']} ({started:.1%}), "
                f"p50 {stats.get('p50', float('nan')):.1f} ms, "
                f"p99 {stats.get('p99', float('nan')):.1f} ms, "
                f"earliest {row['min_ms'] if row['min_ms'] is None else round(row['min_ms'], 2)} ms"
            )
            if got.get("errors"):
                progress(f"  errors: {got['errors']}")
            if got.get("profile"):
                for frame, share in top_frames(got["profile"]):
                    progress(f"    {share:6.1%}  {frame[:110]}")
    report(results, rates, systems)
    SchedulerLease.objects.all().delete()


def report(
    results: dict[tuple[str, int], dict[str, Any]], rates: list[int], systems: list[str]
) -> None:
    def ok(row: dict[str, Any]) -> bool:
        p99 = row.get("p99")
        return p99 is not None and p99 <= P99_LIMIT_MS and row["started_share"] >= STARTED_MIN

    print(f"\n{connection.vendor}: p99 start lateness (ms) and share started", file=sys.stderr)
    print("rate/s  " + "".join(f"{s:>24}" for s in systems), file=sys.stderr)
    for rate in rates:
        cells = []
        for system in systems:
            row = results[(system, rate)]
            p99 = row.get("p99")
            text = "-" if p99 is None else f"{p99:9.1f} ({row['started_share']:.1%})"
            cells.append(f"{text:>24}")
        print(f"{rate:>6}  " + "".join(cells), file=sys.stderr)
    for system in systems:
        passing = [r for r in rates if ok(results[(system, r)])]
        ceiling = max(passing) if passing else None
        emit("sustained_ceiling", system, ceiling, None)
        said = f"{ceiling}/s" if ceiling else f"below {rates[0]}/s"
        rule = f"p99 <= {P99_LIMIT_MS:g} ms, >= {STARTED_MIN:.1%} started"
        print(f"ceiling of {system}: {said} ({rule})", file=sys.stderr)
    if "ours" in systems:
        for peer in (s for s in systems if s != "ours"):
            ratios = []
            for rate in rates:
                a, b = results[("ours", rate)].get("p99"), results[(peer, rate)].get("p99")
                if a and b:
                    ratios.append(f"{rate}/s: {a / b:.2f}")
            print(f"ours' p99 / {peer}'s p99: " + ", ".join(ratios), file=sys.stderr)


if __name__ == "__main__":
    main()
