"""``manage.py importcalendar --file holidays.ics [--name N] [--timezone Z]``: create or
replace an exclusion calendar with the events of an iCalendar file (docs/calendars.md).
Needs the ``calendars`` extra (the ``icalendar`` package)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_schedules import calendars
from django_schedules.api_calendars import add_calendar
from django_schedules.exceptions import InvalidSchedule


def _checked(check: Any) -> Any:
    def convert(value: str) -> str:
        try:
            return str(check(value))
        except InvalidSchedule as exc:
            raise argparse.ArgumentTypeError(f"{exc} ({value!r})") from exc

    return convert


class Command(BaseCommand):
    help = (
        "Create or replace an exclusion calendar from an iCalendar (.ics) file: all-day "
        "events become days, timed events ranges, yearly all-day events yearly days."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", required=True, help="The .ics file to read.")
        parser.add_argument(
            "--name",
            type=_checked(calendars.check_name),
            help="The calendar's name (default: the file's name without .ics).",
        )
        parser.add_argument(
            "--timezone",
            type=_checked(calendars.check_timezone),
            help="The calendar's wall clock (default: the project's TIME_ZONE).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        name = options["name"] or Path(path).stem
        try:
            calendar = add_calendar(name, timezone=options["timezone"], ics=path)
        except InvalidSchedule as exc:
            raise CommandError(str(exc)) from exc
        counts = ", ".join(
            f"{len(getattr(calendar, kind))} {kind}" for kind in ("dates", "ranges", "yearly")
        )
        self.stdout.write(f"calendar {calendar.name!r} imported from {path}: {counts}")
