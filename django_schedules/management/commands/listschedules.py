"""``manage.py listschedules``: the schedules as a table, or as JSON for scripts."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandParser

from django_schedules import store
from django_schedules.api import describe_trigger
from django_schedules.conf import conf
from django_schedules.registry import registered_jobs

COLUMNS = ("ID", "CALLABLE", "TRIGGER", "NEXT RUN", "LAST OUTCOME")


class Command(BaseCommand):
    help = "List the schedules: id, callable, trigger, next run (in TIME_ZONE), last outcome."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print JSON, one object each.")

    def handle(self, *args: Any, **options: Any) -> None:
        zone = ZoneInfo(conf.TIME_ZONE)
        registered = {job.name for job in registered_jobs()}
        rows = []
        for schedule in store.list_schedules():
            next_run = schedule.next_run_at.astimezone(zone) if schedule.next_run_at else None
            last_status = getattr(schedule, "last_status", None)
            last_fire = getattr(schedule, "last_fire_time", None)
            rows.append(
                {
                    "job_id": schedule.job_id,
                    "name": schedule.name,
                    "func": schedule.func,
                    "registered": schedule.func in registered,
                    "trigger": schedule.trigger,
                    "trigger_description": describe_trigger(schedule),
                    "enabled": schedule.enabled,
                    "next_run_at": next_run.isoformat() if next_run else None,
                    "executor": schedule.executor,
                    "source": schedule.source,
                    "last_status": last_status,
                    "last_fire_time": last_fire.astimezone(zone).isoformat() if last_fire else None,
                    "last_error": schedule.last_error,
                }
            )
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No schedules.")
            return
        table = [COLUMNS]
        for row in rows:
            when = "paused" if not row["enabled"] else row["next_run_at"] or "never"
            func = row["func"] + ("" if row["registered"] else " (not registered)")
            outcome = (
                f"{row['last_status']} at {row['last_fire_time']}" if row["last_status"] else "-"
            )
            table.append((row["job_id"], func, row["trigger_description"], when, outcome))
        widths = [max(len(str(line[i])) for line in table) for i in range(len(COLUMNS))]
        for line in table:
            self.stdout.write(
                "  ".join(
                    str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)
                ).rstrip()
            )
