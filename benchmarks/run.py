"""The benchmark's one entry point: build benchmarks/.venv, run every measurement, report.

    python benchmarks/run.py --quick        # under 5 minutes: SQLite and PostgreSQL, 1k and 10k
    python benchmarks/run.py                # SQLite, PostgreSQL, MariaDB at 1k, 10k and 100k
    python benchmarks/run.py --report-only  # rewrite docs/performance.md from the last results

Writes benchmarks/results/<stamp>.jsonl (raw figures), docs/performance.md and
docs/img/perf-*.png. Each measurement runs in its own process (benchmarks/measure.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
VENV = BENCH / ".venv"
PY = VENV / "bin" / "python"
RESULTS = BENCH / "results"
PACKAGES = [
    "django>=5.2,<6",
    "django-celery-beat",
    "django-apscheduler",
    "django-q2",
    "apscheduler>=3.11,<4",
    "matplotlib",
    "psutil",
    "py-spy",
    "pyinstrument",
    "psycopg[binary]>=3.2",
    "django-environ",
    "cronsim",
    "croniter",
]
# MariaDB's driver builds from source against libmariadb-dev and pkg-config: when it cannot,
# the MariaDB runs are skipped, saying why, and the rest goes on.
MYSQL_DRIVER = "mysqlclient"
MYSQL_NEEDS = "apt-get install libmariadb-dev pkg-config"
DATABASES = {
    "sqlite": f"sqlite:///{RESULTS / 'bench.sqlite3'}",
    "postgresql": "postgres://postgres@127.0.0.1:5432/bench_schedules",
    "mysql": "mysql://root@127.0.0.1:3306/bench_schedules",
}
SYSTEMS = ("ours", "beat", "aps", "q2")


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- the virtualenv ---


def build_venv() -> None:
    """Create benchmarks/.venv with the peers and our app (editable); uv when it is there."""
    candidates = [shutil.which("uv"), Path(sys.executable).parent / "uv", ROOT / ".venv/bin/uv"]
    uv = next((str(c) for c in candidates if c and Path(c).exists()), "")
    if not PY.exists():
        say(f"creating {VENV}")
        if uv:
            subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(VENV)], check=True)
        else:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    marker = VENV / ".bench-installed"
    wanted = "\n".join([*PACKAGES, MYSQL_DRIVER, str(ROOT)])
    if marker.exists() and marker.read_text() == wanted:
        return
    say("installing the peers and django-schedules (editable) into benchmarks/.venv")
    if uv:
        command = [uv, "pip", "install", "-q", "-p", str(PY)]
    else:
        subprocess.run([str(PY), "-m", "ensurepip", "-q"], check=False)
        command = [str(PY), "-m", "pip", "install", "-q"]
    subprocess.run([*command, "-e", str(ROOT), *PACKAGES], check=True)
    if subprocess.run([*command, MYSQL_DRIVER], check=False).returncode:
        say(f"{MYSQL_DRIVER} did not build ({MYSQL_NEEDS}); MariaDB runs will be skipped")
        return  # no marker: tried again next time
    marker.write_text(wanted)


# --- databases ---


def create_database(vendor: str) -> bool:
    """Drop and create our own bench_ database; False when its server is not reachable."""
    if vendor == "sqlite":
        RESULTS.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{RESULTS / 'bench.sqlite3'}{suffix}").unlink(missing_ok=True)
        return True
    code = {
        "postgresql": (
            "import psycopg\n"
            "c = psycopg.connect('host=127.0.0.1 user=postgres dbname=postgres', autocommit=True)\n"
            "c.execute('DROP DATABASE IF EXISTS bench_schedules WITH (FORCE)')\n"
            "c.execute('CREATE DATABASE bench_schedules')\n"
        ),
        "mysql": (
            "import MySQLdb\n"
            "c = MySQLdb.connect(host='127.0.0.1', user='root')\n"
            "k = c.cursor()\n"
            "k.execute('DROP DATABASE IF EXISTS bench_schedules')\n"
            "k.execute('CREATE DATABASE bench_schedules CHARACTER SET utf8mb4 "
            "COLLATE utf8mb4_unicode_ci')\n"
        ),
    }[vendor]
    done = subprocess.run([str(PY), "-c", code], capture_output=True, text=True)
    if done.returncode:
        why = done.stderr.strip().splitlines()[-1]
        if "No module named 'MySQLdb'" in why:
            say(f"{vendor}: skipped, its driver {MYSQL_DRIVER} is not installed ({MYSQL_NEEDS})")
        else:
            say(f"{vendor}: not reachable, skipped ({why})")
        return False
    return True


def server_version(vendor: str) -> str:
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "c = connection.cursor()\n"
        "q = {'sqlite': 'select sqlite_version()', 'postgresql': 'show server_version',"
        " 'mysql': 'select version()'}[connection.vendor]\n"
        "c.execute(q); print(c.fetchone()[0])\n"
    )
    done = subprocess.run(
        [str(PY), "-c", code], env=env_for(vendor), capture_output=True, text=True
    )
    return done.stdout.strip() or "?"


def env_for(vendor: str) -> dict[str, str]:
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        DATABASE_URL=DATABASES[vendor],
        PYTHONPATH=str(ROOT),
    )


# --- running measurements ---


class Runner:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.failures: list[str] = []

    def measure(self, vendor: str, *args: str, timeout: float = 900) -> None:
        """Run one benchmarks/measure.py command; append its JSON lines to the results."""
        label = " ".join(args)
        say(f"{vendor}: {label}")
        try:
            done = subprocess.run(
                [str(PY), "-m", "benchmarks.measure", *args],
                env=env_for(vendor),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            self.failures.append(f"{vendor}: {label}: timed out after {timeout:g}s")
            say(f"  timed out after {timeout:g}s")
            return
        with self.out.open("a") as sink:
            for line in done.stdout.splitlines():
                if line.startswith("{"):
                    sink.write(line + "\n")
        if done.returncode:
            self.failures.append(f"{vendor}: {label}: exit {done.returncode}")
            say(f"  failed (exit {done.returncode})")


def run_all(options: argparse.Namespace, out: Path) -> dict[str, str]:
    quick = options.quick
    sizes = [1000, 10000] if quick else [1000, 10000, 100000]
    vendors = options.databases.split(",")
    runner = Runner(out)
    versions: dict[str, str] = {}
    for vendor in vendors:
        if not create_database(vendor):
            continue
        env = env_for(vendor)
        say(f"{vendor}: migrate")
        subprocess.run([str(PY), "-m", "django", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
        versions[vendor] = server_version(vendor)
        for n in sizes:
            runner.measure(vendor, "populate", "--n", str(n))
            runner.measure(vendor, "idle", "--n", str(n), "--seconds", "2" if quick else "4")
            if n == 10000:  # a profile of our idle tick, in a run of its own
                profile = str(RESULTS / f"profile-idle-{vendor}.txt")
                runner.measure(vendor, "idle", "--systems", "ours", "--profile", profile)
            if not quick or n == sizes[-1]:
                for system in SYSTEMS:
                    runner.measure(
                        vendor,
                        "memory",
                        "--n",
                        str(n),
                        "--systems",
                        system,
                        "--seconds",
                        "2" if quick else "3",
                    )
            for system in SYSTEMS:
                cap = "5" if quick else "60"
                runner.measure(vendor, "burst", "--n", str(n), "--systems", system, "--cap", cap)
        # Profiles of our hot paths, in runs of their own (a profiler slows what it watches).
        runner.measure(
            vendor, "burst", "--n", "3000" if quick else "10000", "--systems", "ours",
            "--profile", str(RESULTS / f"profile-burst-{vendor}.txt"),
        )  # fmt: skip
        if quick:
            runner.measure(vendor, "lateness", "--fires", "5", "--spread", "600", "--window", "3")
            runner.measure(
                vendor, "pickup", "--samples", "4", "--beat-samples", "2",
                "--aps-wait", "2", "--idle", "2",
            )  # fmt: skip
            runner.measure(vendor, "failover", "--ttl", "3")
        else:
            runner.measure(
                vendor, "lateness", "--fires", "60", "--spread", "10000", "--window", "60"
            )
            runner.measure(vendor, "pickup", "--samples", "10", "--beat-samples", "4")
            runner.measure(vendor, "q2pickup", "--samples", "3")  # up to 30 s each
            runner.measure(vendor, "failover", "--ttl", "15")
    say("trigger math (benchmarks/triggers.py)")
    done = subprocess.run(
        [str(PY), str(BENCH / "triggers.py"), *(["--quick"] if quick else [])],
        env=env_for("sqlite"),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    with out.open("a") as sink:
        sink.write(json.dumps({"metric": "triggers", "text": done.stdout}) + "\n")
        if runner.failures:
            sink.write(json.dumps({"metric": "failures", "text": runner.failures}) + "\n")
    return versions


def engine_version() -> str:
    """The commit benchmarked, and whether django_schedules/ had uncommitted changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "django_schedules")
    return git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if dirty else "")


def machine(versions: dict[str, str]) -> dict[str, str]:
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count()),
        "memory": memory,
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        **{f"db:{k}": v for k, v in versions.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="under 5 minutes")
    parser.add_argument("--databases", default="", help="sqlite,postgresql,mysql")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--results", default="", help="with --report-only: which .jsonl")
    parser.add_argument("--skip-install", action="store_true")
    options = parser.parse_args()
    if not options.databases:
        options.databases = "sqlite,postgresql" if options.quick else "sqlite,postgresql,mysql"
    if not options.skip_install:
        build_venv()
    if Path(sys.prefix).resolve() != VENV.resolve():
        # Everything else runs inside the benchmark virtualenv.
        os.execv(  # noqa: S606 - our own interpreter, our own script
            str(PY), [str(PY), str(Path(__file__).resolve()), "--skip-install", *sys.argv[1:]]
        )
    sys.path.insert(0, str(ROOT))
    from benchmarks import report

    RESULTS.mkdir(exist_ok=True)
    if options.report_only:
        out = (
            Path(options.results)
            if options.results
            else max(RESULTS.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        )
        saved = out.with_suffix(".meta.json")
        meta = (
            json.loads(saved.read_text())
            if saved.exists()  # absent when the run was cut short: a partial report
            else {
                "command": "python benchmarks/run.py (cut short; partial results)",
                "seconds": 0,
                "finished": "unfinished",
                "machine": machine({}),
                "quick": "quick" in out.name,
            }
        )
    else:
        began = time.monotonic()
        out = (
            RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%S}{'-quick' if options.quick else ''}.jsonl"
        )
        versions = run_all(options, out)
        command = "python benchmarks/run.py" + (" --quick" if options.quick else "")
        if options.databases != (
            "sqlite,postgresql" if options.quick else "sqlite,postgresql,mysql"
        ):
            command += f" --databases {options.databases}"
        meta = {
            "engine": engine_version(),
            "command": command,
            "seconds": round(time.monotonic() - began),
            "finished": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "machine": machine(versions),
            "quick": options.quick,
        }
        out.with_suffix(".meta.json").write_text(json.dumps(meta, indent=1))
        say(f"raw results: {out} ({meta['seconds']}s)")
    report.write(out, meta)
    say("wrote docs/performance.md and docs/img/perf-*.png")


if __name__ == "__main__":
    main()
