"""The tasks executor's hand-off to real Celery and RQ workers (docs/executors.md figures).

    python benchmarks/handoff.py --engine rq --burst 2000 --workers 1,2,4
    python benchmarks/handoff.py --engine celery --rates 20,40,80 --duration 40
    python benchmarks/handoff.py --engine celery --burst 2000 --workers 0 --broker amqp://guest:guest@127.0.0.1:5672//
    python benchmarks/handoff.py --faults 60      # the worker fault tests, each run 60 s longer

Runs against PostgreSQL (its own database, bench_handoff) and the machine's Redis, with the
settings of tests/workers/settings.py (a queue of its own); `--broker` gives Celery another
broker (RabbitMQ). Two measurements:

- burst: N schedules due at one instant; the seconds from that instant until the broker holds
  every message (no worker running; negative when all were there before it), then, per
  worker count, the runs succeeded per second once the workers start on the whole backlog.
- lateness: schedules on a 10 s interval spread evenly (rate x 10 of them for `rate` runs a
  second), a 50 ms job that writes its real start time, four workers, two schedulers; fire
  time to job start, p50 / p99 / max, over `duration` seconds after a warm-up.

- faults: tests/workers/test_faults.py and test_kills.py (the job's process killed, a whole
  worker killed, the leading scheduler killed, a private broker stopped 10 s, an enqueue that
  raises), each run on `--faults` seconds after its fault; the table of docs/guarantees.md
  (occurrences, runs, duplicates, occurrences without a row, rows stuck). Runs on the
  database of DATABASE_URL (SQLite when unset), as the tests do.

Prints one JSON line per figure. Uses the interpreter it runs under (the project's .venv with
the `workers` group installed).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG = "postgres://postgres@127.0.0.1:5432"
DB = "bench_handoff"
REDIS_URL = "redis://127.0.0.1:6379/0"
CELERY_BROKER: list[str] = []  # --broker: Celery's broker when not the Redis above


def env(queue: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.workers.settings",
        "DATABASE_URL": f"{PG}/{DB}",
        "SCHEDULES_WORKER_QUEUE": queue,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        **({"SCHEDULES_CELERY_BROKER": CELERY_BROKER[0]} if CELERY_BROKER else {}),
        # A backlog takes minutes to drain on one worker: a run waiting in it longer than the
        # tests' redeliver_after (10 s) would be sent again, and failed after three sends.
        "SCHEDULES_WORKER_REDELIVER": "900",
    }


def start(args: list[str], queue: str, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, *args], env=env(queue), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
    )


RQ_WORKER_CLASS: list[str] = []  # --rq-worker-class: e.g. rq.worker.SimpleWorker (no fork)


def workers(engine: str, queue: str, count: int, log: Path) -> list[subprocess.Popen[bytes]]:
    """`count` RQ workers, or one Celery worker of `count` children: the tests' command lines."""
    from tests.workers.engines import worker_args

    if engine == "rq":
        worker_class = RQ_WORKER_CLASS[0] if RQ_WORKER_CLASS else None
        command = worker_args("rq", queue, rq_worker_class=worker_class)
        return [start(command, queue, log) for _ in range(count)]
    return [start(worker_args("celery", queue, concurrency=count, loglevel="WARNING"), queue, log)]


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def in_broker(engine: str, queue: str) -> int:
    if engine == "celery" and CELERY_BROKER:
        from kombu import Connection

        with Connection(CELERY_BROKER[0]) as connection:
            try:  # a passive declare answers the queue's message count
                return int(connection.default_channel.queue_declare(queue, passive=True)[1])
            except connection.channel_errors:
                return 0  # not declared yet
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        if engine == "rq":
            return int(client.llen(f"rq:queue:{queue}"))
        return sum(int(client.llen(key)) for key in client.scan_iter(f"{queue}*"))
    finally:
        client.close()


def fresh_database() -> None:
    import psycopg

    if "django" in sys.modules and "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()  # ours, before the database goes

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "-v0"], env=env("none"), cwd=ROOT, check=True
    )


def setup_django(queue: str) -> None:
    os.environ.update(env(queue))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p), len(ordered) - 1)]


def burst(engine: str, size: int, worker_counts: list[int], log: Path) -> None:
    for count in worker_counts:
        queue = f"bench_{uuid.uuid4().hex[:8]}"
        fresh_database()
        setup_django(queue)
        from django.db import connections

        from django_schedules import api
        from django_schedules.models import Execution, Schedule

        Schedule.objects.all().delete()
        at = datetime.now(UTC) + timedelta(seconds=20)
        for n in range(size):
            api.add_job(
                "workers.ledger", "interval", hours=1, start_date=at, id=f"b{n}",
                kwargs={"path": os.devnull}, executor=engine,
            )  # fmt: skip
        schedulers = [start(["-m", "django", "runscheduler"], queue, log) for _ in range(2)]
        # From 3 s before the instant: a burst is claimed ahead of it (bursts.py), so its
        # messages may all be on the broker before it (a negative figure).
        while datetime.now(UTC) < at - timedelta(seconds=3):
            time.sleep(0.005)
        while in_broker(engine, queue) < size:
            if (datetime.now(UTC) - at).total_seconds() > 120:
                raise SystemExit(f"the broker holds {in_broker(engine, queue)} of {size}")
            time.sleep(0.01)
        handoff = (datetime.now(UTC) - at).total_seconds()
        print(json.dumps({"engine": engine, "figure": "burst_in_broker_s", "n": size,
                          "value": round(handoff, 3)}), flush=True)  # fmt: skip
        if not count:  # the hand-off alone
            stop(schedulers)
            connections.close_all()
            continue
        began = time.monotonic()
        pool = workers(engine, queue, count, log)
        done = 0
        while done < size and time.monotonic() - began < 600:
            time.sleep(0.2)
            done = Execution.objects.filter(status="succeeded").count()
        elapsed = time.monotonic() - began
        print(json.dumps({"engine": engine, "figure": "runs_per_s", "workers": count,
                          "n": done, "value": round(done / elapsed, 1)}), flush=True)  # fmt: skip
        stop(schedulers + pool)
        connections.close_all()


def lateness(engine: str, rate: int, duration: float, log: Path) -> None:
    queue = f"bench_{uuid.uuid4().hex[:8]}"
    fresh_database()
    setup_django(queue)
    from django.db.models import Count

    from django_schedules import api
    from django_schedules.models import Execution

    ledger = Path(tempfile.mkdtemp()) / "ledger.txt"
    count = rate * 10
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=15)
    for n in range(count):
        api.add_job(
            "workers.ledger", "interval", seconds=10, id=f"l{n}",
            start_date=base + timedelta(seconds=10 * n / count),
            kwargs={"path": str(ledger), "seconds": 0.05}, executor=engine,
        )  # fmt: skip
    pool = workers(engine, queue, 4, log)
    schedulers = [start(["-m", "django", "runscheduler"], queue, log) for _ in range(2)]
    warm = base + timedelta(seconds=10)
    time.sleep(max((warm - datetime.now(UTC)).total_seconds(), 0) + duration + 3)
    stop(schedulers + pool)
    fires = {
        pk: fire.timestamp()
        for pk, fire in Execution.objects.filter(fire_time__gte=warm).values_list("pk", "fire_time")
    }
    late = [
        float(line.split()[2]) - fires[int(line.split()[0])]
        for line in ledger.read_text().splitlines()
        if line.split()[1] != "end" and int(line.split()[0]) in fires
    ]
    statuses = dict(
        Execution.objects.filter(fire_time__gte=warm).values_list("status").annotate(n=Count("pk"))
    )
    print(json.dumps({
        "engine": engine, "figure": "fire_to_start_ms", "rate": rate, "runs": len(late),
        "p50": round(statistics.median(late) * 1000, 1),
        "p99": round(percentile(late, 0.99) * 1000, 1),
        "max": round(max(late) * 1000, 1), "statuses": statuses,
    }), flush=True)  # fmt: skip


def faults(run_on: float) -> int:
    figures = Path(tempfile.mkdtemp()) / "figures.jsonl"
    figures.touch()
    env = {
        **os.environ,
        "SCHEDULES_WORKERS_RUN_ON": str(run_on),
        "SCHEDULES_WORKERS_FIGURES": str(figures),
        "SCHEDULES_TEST_DB_SUFFIX": os.environ.get("SCHEDULES_TEST_DB_SUFFIX", "_handoff_faults"),
    }
    tests = ["tests/workers/test_faults.py", "tests/workers/test_kills.py"]
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--timeout=1800", *tests]
    code = subprocess.run(command, env=env, cwd=ROOT, check=False).returncode
    for line in figures.read_text().splitlines():
        print(line, flush=True)
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["rq", "celery"])
    parser.add_argument("--faults", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--burst", type=int, default=0)
    parser.add_argument("--workers", default="4")
    parser.add_argument("--rates", default="")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rq-worker-class", default="")
    parser.add_argument("--broker", default="", help="Celery's broker URL (default: Redis)")
    options = parser.parse_args()
    if options.faults is not None:
        raise SystemExit(faults(options.faults))
    if options.engine is None:
        parser.error("--engine is required (or --faults)")
    if options.rq_worker_class:
        RQ_WORKER_CLASS[:] = [options.rq_worker_class]
    if options.broker:
        CELERY_BROKER[:] = [options.broker]
    log = Path(tempfile.mkdtemp()) / "processes.log"
    print(f"process output: {log}", file=sys.stderr)
    if options.burst:
        burst(options.engine, options.burst, [int(n) for n in options.workers.split(",")], log)
    for rate in filter(None, options.rates.split(",")):
        lateness(options.engine, int(rate), options.duration, log)


if __name__ == "__main__":
    main()
