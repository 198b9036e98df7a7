"""What the metrics' counters cost the finishing of runs: A/B, back to back, in one process.

    .venv/bin/python benchmarks/metrics_finish_cost.py                     # PostgreSQL
    .venv/bin/python benchmarks/metrics_finish_cost.py --database mariadb  # or sqlite

Uses ``benchmarks/metrics_scrape.py``'s database (``bench_metrics``; run that first, or pass
``--seed`` to create a small one). Each round inserts ``--runs`` executions as running, then
``--threads`` threads finish them through ``store.finish_executions`` in batches of
``--batch`` (as the thread pool's finisher does, each thread on its own connection, all
contending for the same counter rows); rounds alternate with the counters on (the real
upsert) and off (``add_counts`` replaced by nothing). Prints the finishes a second of each
and the median ratio. The machine is shared: read the ratio of neighbouring rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import metrics_scrape, scale  # noqa: E402 - the path above first


def finish_round(options: argparse.Namespace, counters: bool, round_no: int) -> float:
    from django.db import connections

    from django_schedules import store
    from django_schedules.models import Execution, ExecutionStatus, Schedule
    from django_schedules.store import executions as module
    from django_schedules.store.metrics import add_counts

    pks = list(Schedule.objects.order_by("pk").values_list("pk", flat=True)[: options.runs])
    now = datetime.now(UTC) + timedelta(days=round_no)
    Execution.objects.bulk_create(
        [
            Execution(
                schedule_id=pk,
                job_id=f"cost-{pk}",
                fire_time=now,
                started_at=now,
                status=ExecutionStatus.RUNNING,
            )
            for pk in pks
        ],
        batch_size=2000,
    )
    ids = list(
        Execution.objects.filter(fire_time=now, status="running").values_list("pk", flat=True)
    )
    module.add_counts = add_counts if counters else (lambda tally, using: None)  # type: ignore[assignment]
    slices = [ids[i :: options.threads] for i in range(options.threads)]
    errors: list[BaseException] = []

    def work(mine: list[int]) -> None:
        try:
            for i in range(0, len(mine), options.batch):
                ends = [
                    store.Finish(pk, 1, "succeeded", now, timedelta(seconds=0.2))
                    for pk in mine[i : i + options.batch]
                ]
                store.finish_executions(ends, "default")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(s,)) for s in slices]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    module.add_counts = add_counts  # type: ignore[assignment]
    if errors:
        raise errors[0]
    assert Execution.objects.filter(pk__in=ids, status="succeeded").count() == len(ids)
    Execution.objects.filter(pk__in=ids).delete()
    return len(ids) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--database", choices=["postgresql", "sqlite", "mariadb"], default="postgresql"
    )
    parser.add_argument("--runs", type=int, default=4000, help="executions a round")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=20, help="finishes a statement")
    parser.add_argument("--rounds", type=int, default=6, help="pairs of rounds (on, off)")
    parser.add_argument("--seed", action="store_true", help="create a small database first")
    options = parser.parse_args()
    scale.database_settings = metrics_scrape.database_settings  # type: ignore[assignment]
    scale.configure(options.database)
    if options.seed:
        seeded = argparse.Namespace(
            database=options.database, schedules=options.runs, executions=options.runs
        )
        metrics_scrape.seed(seeded)
    on: list[float] = []
    off: list[float] = []
    for r in range(options.rounds):
        first, second = (True, False) if r % 2 == 0 else (False, True)
        for counters in (first, second):
            rate = finish_round(options, counters, 2 * r + (counters is second))
            (on if counters else off).append(rate)
            scale.say(f"  round {r + 1} counters {'on ' if counters else 'off'}: {rate:,.0f}/s")
    ratios = [a / b for a, b in zip(on, off, strict=True)]
    summary: dict[str, Any] = {
        "on": statistics.median(on),
        "off": statistics.median(off),
        "ratio": statistics.median(ratios),
    }
    print(
        f"\n{options.database}: {options.threads} threads finishing {options.runs:,} runs in "
        f"batches of {options.batch}: counters on {summary['on']:,.0f}/s, off "
        f"{summary['off']:,.0f}/s, on/off median ratio {summary['ratio']:.2f} "
        f"over {options.rounds} pairs"
    )


if __name__ == "__main__":
    main()
