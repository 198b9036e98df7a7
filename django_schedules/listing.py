"""Schedules as text: a trigger in words, and ``print_jobs`` as APScheduler prints them."""

from __future__ import annotations

import sys
from typing import IO
from zoneinfo import ZoneInfo

from django_schedules import store
from django_schedules.calendars import covering, names_in
from django_schedules.conf import conf
from django_schedules.exceptions import TriggerError
from django_schedules.models import Schedule


def describe_trigger(schedule: Schedule) -> str:
    """The schedule's trigger in words, or why it cannot be read."""
    from django_schedules.triggers import trigger_from_dict

    try:
        return trigger_from_dict(schedule.trigger).describe()
    except (TriggerError, KeyError, TypeError, ValueError) as exc:
        return f"invalid trigger: {exc}"


def print_jobs(jobstore: str | None = None, out: IO[str] | None = None) -> None:
    """Print the schedules, as APScheduler's ``print_jobs`` does."""
    out = out or sys.stdout
    schedules = store.list_schedules()
    zone = ZoneInfo(conf.TIME_ZONE)
    named = {name for schedule in schedules for name in names_in(schedule.calendars)}
    found = store.calendars_by_name(named, store.database_alias()) if named else {}
    out.write("Jobstore default:\n")
    if not schedules:
        out.write("    No scheduled jobs\n")
    for schedule in schedules:
        if not schedule.enabled:
            when = "paused"
        elif schedule.next_run_at is None:
            when = "never"
        else:
            when = f"next run at: {schedule.next_run_at.astimezone(zone).isoformat()}"
            inside = covering(
                [found[n] for n in names_in(schedule.calendars) if n in found], schedule.next_run_at
            )
            if inside is not None:
                when += f" (not run: inside calendar {inside.name!r})"
        if names_in(schedule.calendars):
            when = f"except in calendars {', '.join(names_in(schedule.calendars))}, {when}"
        out.write(
            f"    {schedule.job_id}: {schedule.name} (trigger: {describe_trigger(schedule)}, "
            f"{when})\n"
        )
