"""The fault cases of issue 8 at full length, on real servers (tests/faults/ runs them short).

    python benchmarks/faults.py                          # every case on every database
    python benchmarks/faults.py --database postgresql --case restart
    python benchmarks/faults.py --case flaky --schedules 100 --firings 10 --seed 7

Cases: ``flaky`` (every statement of the scheduler process fails with probability 0.2, before
it is sent or right after its COMMIT), ``restart`` (a private server of the database's kind
stops for 6 s; not on SQLite), ``lock`` (another connection holds a write transaction for
10 s). Each database runs in its own process on a throwaway test database
(SCHEDULES_TEST_DB_SUFFIX ``_faults_bench``); the table at the end has the runs, firings,
faults injected, duplicates found and occurrences lost (tests/faults/cases.py says exactly
what counts). Exits 1 when a case found a duplicate or a lost occurrence.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
URLS = {
    "sqlite": "sqlite:///" + str(ROOT / "tests" / "db.sqlite3"),
    "postgresql": "postgres://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql://root@127.0.0.1:3306/test",
}
CASES = ("flaky", "restart", "lock")
RESULT = "RESULT "


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=[*URLS, "all"], default="all")
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--schedules", type=int, default=100, help="schedules (default 100)")
    parser.add_argument("--firings", type=int, default=10, help="firings each (default 10)")
    parser.add_argument("--rate", type=float, default=0.2, help="flaky: fault probability")
    parser.add_argument("--seed", type=int, default=1, help="flaky: the injector's seed")
    parser.add_argument("--hold", type=float, default=10.0, help="lock: seconds held")
    parser.add_argument("--down", type=float, default=6.0, help="restart: seconds down")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    options = parse()
    if options.child:
        return child(options)
    databases = list(URLS) if options.database == "all" else [options.database]
    rows: list[dict[str, Any]] = []
    for database in databases:
        print(f"== {database}", flush=True)
        env = {
            **os.environ,
            "DATABASE_URL": URLS[database],
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        env.setdefault("SCHEDULES_TEST_DB_SUFFIX", "_faults_bench")
        command = [sys.executable, __file__, "--child", "--database", database]
        for name in ("case", "schedules", "firings", "rate", "seed", "hold", "down"):
            command += [f"--{name}", str(getattr(options, name))]
        with subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(RESULT):
                    rows.append(json.loads(line[len(RESULT) :]))
                else:
                    print(line, end="", flush=True)
        if proc.returncode:
            print(f"   {database}: the run failed (exit {proc.returncode})", flush=True)
    print(table(rows))
    return 1 if any(r["duplicates"] or r["lost"] for r in rows) else 0


def table(rows: list[dict[str, Any]]) -> str:
    columns = ["database", "case", "schedules", "firings", "runs", "faults injected"]
    columns += ["duplicates", "lost", "seconds", "notes"]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for r in rows:
        lines.append(
            f"| {r['database']} | {r['case']} | {r['schedules']} | {r['occurrences']} | "
            f"{r['runs']} | {r['faults']} | {r['duplicates']} | {r['lost']} | "
            f"{r['seconds']:.0f} | {r['notes']} |"
        )
    return "\n".join(lines)


def child(options: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.db import connection, connections

    from tests.faults import cases

    def progress(message: str) -> None:
        print(f"   {message}", flush=True)

    wanted = CASES if options.case == "all" else (options.case,)
    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}[connection.vendor]
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        for case in wanted:
            with tempfile.TemporaryDirectory(prefix=f"faults-{case}-") as tmp:
                if case == "flaky":
                    figures = cases.flaky_database(
                        Path(tmp),
                        database=label,
                        schedules=options.schedules,
                        firings=options.firings,
                        rate=options.rate,
                        seed=options.seed,
                        progress=progress,
                    )
                elif case == "lock":
                    figures = cases.held_write_lock(
                        Path(tmp),
                        database=label,
                        schedules=options.schedules,
                        firings=options.firings,
                        hold=options.hold,
                        progress=progress,
                    )
                elif connection.vendor == "sqlite":
                    progress("restart: SQLite has no server to restart")
                    continue
                else:
                    figures = restart(Path(tmp), options, progress)
            report(figures, progress)
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


def restart(tmp: Path, options: argparse.Namespace, progress: Any) -> Any:
    from django.db import connection

    from tests.faults import cases
    from tests.faults.servers import SERVERS, attach, detach
    from tests.processes import command_env

    kind = SERVERS[connection.vendor]
    server = kind()
    try:
        progress(f"restart: creating a private {server.label} on port {server.port}")
        server.create()
        migrate = [sys.executable, "-m", "django", "migrate", "--verbosity", "0"]
        subprocess.run(migrate, env=command_env(DATABASE_URL=server.url), cwd=ROOT, check=True)
        attach("faults_private", server.url)
        try:
            return cases.server_restart(
                tmp,
                server=server,
                using="faults_private",
                schedules=options.schedules,
                firings=options.firings,
                down=options.down,
                progress=progress,
            )
        finally:
            detach("faults_private")
    finally:
        server.destroy()


def report(figures: Any, progress: Any) -> None:
    keep = ("seed", "outage (s)", "resumed after (s)", "catch-up runs", "latest start (s)")
    notes = {k: v for k, v in figures.notes.items() if k in keep or k.startswith("'database")}
    notes["statuses"] = dict(figures.statuses)
    notes["exit codes"] = figures.notes.get("exit codes")
    notes["errors logged"] = len(figures.notes.get("errors logged", []))
    if not figures.notes.get("settled", True):
        notes["settled"] = False
    progress(
        f"{figures.case}: {figures.occurrences} firings, {figures.runs} runs, {figures.faults} "
        f"faults, {figures.duplicates} duplicates, {figures.lost} lost, {figures.seconds:.0f} s"
    )
    for problem in figures.problems:
        progress(f"  {problem}")
    for code, output in zip(
        figures.notes.get("exit codes", []), figures.notes.get("outputs", []), strict=False
    ):
        if code != 0:  # stopped by SIGABRT after the grace: the tail holds its threads' stacks
            progress(f"  a scheduler exited {code} after SIGTERM; its output ends:")
            lines = output.splitlines()
            dump = max((i for i, x in enumerate(lines) if "Fatal Python error" in x), default=0)
            for line in lines[dump:][:400]:
                progress(f"    {line}")
    row = {
        "database": figures.database,
        "case": figures.case,
        "schedules": figures.schedules,
        "occurrences": figures.occurrences,
        "runs": figures.runs,
        "faults": figures.faults,
        "duplicates": figures.duplicates,
        "lost": figures.lost,
        "seconds": figures.seconds,
        "notes": ", ".join(f"{k} {v}" for k, v in notes.items()),
    }
    print(RESULT + json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
