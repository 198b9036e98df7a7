"""Print whether a scheduler group is alive and keeping up; exit non-zero when it is not.

Exit codes: 0 healthy, 1 no live leader (or no scheduler at all), 2 lag over --max-lag.
"""

from __future__ import annotations

import json
import math
from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_schedules.status import ago, check_health

EXIT_NO_LEADER = 1
EXIT_LAGGING = 2


def seconds(value: str) -> float:
    """Parse --max-lag: a finite number of seconds, zero or more."""
    try:
        number = float(value)
    except ValueError as exc:
        raise ArgumentTypeError(f"must be a number of seconds, got {value!r}") from exc
    if not (math.isfinite(number) and number >= 0):
        raise ArgumentTypeError(f"must be a finite number of seconds, zero or more, got {value!r}")
    return number


class Command(BaseCommand):
    help = (
        "Show the scheduler group's leader, standbys, heartbeats and lag. Exits 1 when no "
        "leader is alive, 2 when the lag exceeds --max-lag: a liveness probe."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--group", default="default", help="Scheduler group (lease name).")
        parser.add_argument("--json", action="store_true", help="Print JSON for scripts.")
        parser.add_argument(
            "--max-lag",
            type=seconds,
            default=None,
            help="Fail (exit 2) when the oldest due schedule is later than this many seconds.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        health = check_health(options["group"], max_lag=options["max_lag"])
        if options["json"]:
            self.stdout.write(json.dumps(health.as_dict(), indent=2))
        else:
            self.stdout.write(self.render(health))
        if health.ok:
            return
        code = EXIT_NO_LEADER if not health.leader_alive else EXIT_LAGGING
        raise SystemExit(code)

    def render(self, health: Any) -> str:
        status = health.status
        lines = [f"Scheduler group {status.group!r} at {status.now:%Y-%m-%d %H:%M:%S} UTC"]
        leader = status.leader
        if leader is not None:
            tick = f", last tick {ago(health.age(leader.last_tick_at))}"
            lines.append(
                f"  Leader:   {leader.host} pid {leader.pid} (v{leader.version}), heartbeat "
                f"{ago(health.age(leader.heartbeat_at))}{tick}, "
                f"{leader.fired_last_minute} fired in the last minute"
            )
        else:
            lines.append("  Leader:   none")
        for standby in health.standbys:
            lines.append(
                f"  Standby:  {standby.host} pid {standby.pid} (v{standby.version}), heartbeat "
                f"{ago(health.age(standby.heartbeat_at))}"
            )
        lines.append(f"  Lag:      {status.lag:.1f} s ({status.overdue} schedule(s) overdue)")
        verdict = "OK" if health.ok else "PROBLEM: " + "; ".join(health.problems)
        lines.append(f"  Status:   {verdict}")
        return "\n".join(lines)
