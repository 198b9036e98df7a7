"""Microseconds per computed fire time: ours against cronsim, croniter and APScheduler 3.

Run: .venv/bin/python benchmarks/triggers.py [--quick]

Every library computes the same run of consecutive fire times from the same start, in the same
process, best of three rounds. APScheduler is given keyword fields with the crontab's meaning
(its `from_crontab` numbers weekdays from Monday). The ratio is the library's time divided by
ours: above 1.0 means we are faster.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger as ApsCronTrigger
from croniter import croniter
from cronsim import CronSim

from django_schedules.triggers import CronTrigger

# (crontab, zone, APScheduler keyword fields with the same meaning, fires per round)
CASES: list[tuple[str, str, dict[str, str], int]] = [
    ("*/5 * * * *", "UTC", {"minute": "*/5"}, 3000),
    ("0 9 * * 1-5", "UTC", {"minute": "0", "hour": "9", "day_of_week": "mon-fri"}, 2000),
    ("30 2 * * *", "Europe/Berlin", {"minute": "30", "hour": "2"}, 2000),
    ("0 0 29 2 *", "UTC", {"minute": "0", "hour": "0", "day": "29", "month": "2"}, 300),
    ("15,45 */2 1-15 * *", "UTC", {"minute": "15,45", "hour": "*/2", "day": "1-15"}, 2000),
]
START = datetime(2026, 1, 1, tzinfo=UTC)
ROUNDS = 3


def per_fire(run: Callable[[int], object], count: int) -> float:
    """Return the best time per fire in microseconds over ROUNDS rounds of `count` fires."""
    best = float("inf")
    for _ in range(ROUNDS):
        began = time.perf_counter()
        run(count)
        best = min(best, (time.perf_counter() - began) / count * 1e6)
    return best


def ours(expr: str, zone: str) -> Callable[[int], object]:
    trigger = CronTrigger.from_crontab(expr, timezone=zone)

    def run(count: int) -> object:
        fire = trigger.get_next_fire_time(None, START)
        for _ in range(count - 1):
            fire = trigger.get_next_fire_time(fire, START)
        return fire

    return run


def with_cronsim(expr: str, zone: str) -> Callable[[int], object]:
    def run(count: int) -> object:
        iterator = CronSim(expr, (START - timedelta(seconds=1)).astimezone(ZoneInfo(zone)))
        for _ in range(count):
            fire = next(iterator)
        return fire

    return run


def with_croniter(expr: str, zone: str) -> Callable[[int], object]:
    def run(count: int) -> object:
        start = (START - timedelta(seconds=1)).astimezone(ZoneInfo(zone))
        iterator = croniter(expr, start)
        for _ in range(count):
            fire = iterator.get_next(datetime)
        return fire

    return run


def with_apscheduler(fields: dict[str, str], zone: str) -> Callable[[int], object]:
    trigger = ApsCronTrigger(**fields, timezone=zone)

    def run(count: int) -> object:
        fire = trigger.get_next_fire_time(None, START.astimezone(ZoneInfo(zone)))
        for _ in range(count - 1):
            fire = trigger.get_next_fire_time(fire, fire)
        return fire

    return run


def main() -> None:
    quick = "--quick" in sys.argv
    rows = []
    for index, (expr, zone, fields, count) in enumerate(CASES, 1):
        count = count // 10 if quick else count
        print(f"[{index}/{len(CASES)}] {expr} ({zone}) ...", file=sys.stderr, flush=True)
        # The same fire times from everyone, or the comparison means nothing.
        check = CronTrigger.from_crontab(expr, timezone=zone).fire_times(START, 5)
        sim = CronSim(expr, (START - timedelta(seconds=1)).astimezone(ZoneInfo(zone)))
        assert [next(sim) for _ in check] == check, expr
        timings = {
            "ours": per_fire(ours(expr, zone), count),
            "cronsim": per_fire(with_cronsim(expr, zone), count),
            "croniter": per_fire(with_croniter(expr, zone), count),
            "apscheduler": per_fire(with_apscheduler(fields, zone), count),
        }
        rows.append((expr, zone, timings))
    header = (
        f"{'expression':<20} {'zone':<14} {'ours':>7} {'cronsim':>15} {'croniter':>15} "
        f"{'APScheduler':>15}"
    )
    print("µs per fire time (ratio = theirs / ours; above 1.0: we are faster)")
    print(header)
    print("-" * len(header))
    slowest_ratio = float("inf")
    for expr, zone, timings in rows:
        mine = timings["ours"]
        cells = []
        for name in ("cronsim", "croniter", "apscheduler"):
            ratio = timings[name] / mine
            slowest_ratio = min(slowest_ratio, ratio)
            cells.append(f"{timings[name]:7.2f} ({ratio:4.1f}x)")
        print(f"{expr:<20} {zone:<14} {mine:7.2f} " + " ".join(f"{c:>15}" for c in cells))
    print(f"\nSmallest ratio: {slowest_ratio:.1f}x ({'faster' if slowest_ratio > 1 else 'SLOWER'})")


if __name__ == "__main__":
    main()
