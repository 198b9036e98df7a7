"""The process and clock fault tests of tests/kills at full length, with a table of what they
injected and found (docs/guarantees.md#tested).

    .venv/bin/python benchmarks/kills.py                          # every case, three databases
    .venv/bin/python benchmarks/kills.py --database postgresql --case claim
    .venv/bin/python benchmarks/kills.py --runs 3                 # each case three times
    .venv/bin/python benchmarks/kills.py --table benchmarks/results/kills-<stamp>.jsonl

Each case is its pytest file run in its own process on the project's virtualenv, with the
sizes raised through ``KILLS_*`` variables (tests/kills/harness.py) and its figures appended
to ``benchmarks/results/kills-<stamp>.jsonl``. Progress lines stream as the tests print them.
Exits non-zero when a test fails or any duplicate, lost occurrence or stuck run is found.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATABASES = {
    "sqlite": "",  # tests/settings.py's default: an SQLite file
    "postgresql": "postgres://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql://root@127.0.0.1:3306/test",
}
CASES = {
    "claim": "tests/kills/test_leader_killed_while_claiming.py",
    "freeze": "tests/kills/test_leader_frozen_past_its_lease.py",
    "worker": "tests/kills/test_worker_killed_mid_job.py",
    "clock": "tests/kills/test_clock_jumps.py",
    "chaos": "tests/kills/test_chaos.py",
}
# Full length (the tests' own defaults are CI's short form).
SIZES = {
    "KILLS_CLAIM_KILLS": "20",
    "KILLS_CLAIM_SCHEDULES": "100",
    "KILLS_FREEZES": "10",
    "KILLS_FREEZE_SCHEDULES": "100",
    "KILLS_WORKER_KILLS": "3",
    "KILLS_CLOCK_JUMPS": "20",
    "KILLS_CLOCK_HOST_JUMPS": "5",
    # The issue 21 run: 4 schedulers, 300 schedules, 2.5 minutes, two long freezes and more.
    "KILLS_CHAOS_SECONDS": "150",
    "KILLS_CHAOS_SCHEDULES": "300",
    "KILLS_CHAOS_SCHEDULERS": "4",
    "KILLS_CHAOS_FAULTS": "freeze,kill,freeze_anywhere,term,freeze,kill,freeze_anywhere,term",
}
COLUMNS = ("test runs", "runs", "firings", "faults", "duplicates", "lost", "stuck")


def say(message: str) -> None:
    sys.stderr.write(f"[{datetime.now(UTC):%H:%M:%S}] {message}\n")
    sys.stderr.flush()


def run_case(database: str, case: str, results: Path) -> bool:
    """Run one case's tests on one database; True when they passed."""
    env = {
        **os.environ,
        **SIZES,
        "KILLS_RESULTS": str(results),
        "SCHEDULES_TEST_DB_SUFFIX": "_killbench",
        "PYTHONDEVMODE": "1",
    }
    env.pop("DATABASE_URL", None)
    if DATABASES[database]:
        env["DATABASE_URL"] = DATABASES[database]
    command = [sys.executable, "-m", "pytest", CASES[case], "-p", "no:randomly", "-q", "-s"]
    command += ["-p", "no:cacheprovider", "--timeout=3000"]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    say(f"{case} on {database}: exit {done.returncode} in {time.monotonic() - started:.0f} s")
    return done.returncode == 0


def table(results: Path) -> tuple[str, bool]:
    """The Markdown table of the figures in `results`, and whether all of them are clean."""
    totals: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    lines = results.read_text().splitlines() if results.exists() else []
    for line in lines:
        figures = json.loads(line)
        row = totals[(figures["case"], figures["database"])]
        row["test runs"] += 1
        for column in COLUMNS[1:]:
            row[column] += figures.get(column, 0)
    out = [
        "| case | database | " + " | ".join(COLUMNS) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in COLUMNS) + " |",
    ]
    for (case, database), row in sorted(totals.items()):
        out.append(f"| {case} | {database} | " + " | ".join(str(row[c]) for c in COLUMNS) + " |")
    clean = all(row[c] == 0 for row in totals.values() for c in ("duplicates", "lost", "stuck"))
    return "\n".join(out), clean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=DATABASES, action="append", dest="databases")
    parser.add_argument("--case", choices=CASES, action="append", dest="cases")
    parser.add_argument("--runs", type=int, default=1, help="runs of each case (default 1)")
    parser.add_argument("--table", type=Path, help="only print the table of a results file")
    options = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = options.table or RESULTS / f"kills-{datetime.now(UTC):%Y%m%dT%H%M%S}.jsonl"
    passed = True
    for database in [] if options.table else options.databases or list(DATABASES):
        for case in options.cases or list(CASES):
            for run in range(1, options.runs + 1):
                say(f"{case} on {database}, run {run}/{options.runs}")
                passed = run_case(database, case, results) and passed
    text, clean = table(results)
    sys.stdout.write(text + "\n")
    say(f"figures in {results}")
    if not (passed and clean):
        sys.exit(1)


if __name__ == "__main__":
    main()
