"""Run a schedule's past occurrences in a range: ``backfill_job`` from the command line."""

from __future__ import annotations

from argparse import ArgumentTypeError
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_schedules.backfill import DEFAULT_LIMIT, MAX_LIMIT, NEW, RERUN, backfill_job
from django_schedules.exceptions import SchedulesError


def instant(value: str) -> datetime:
    """Parse --start and --end: an ISO 8601 date and time with its UTC offset."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ArgumentTypeError(
            "must be an ISO 8601 date and time with its UTC offset, such as "
            f"2026-01-01T00:00:00+00:00 or 2026-01-01T00:00Z, got {value!r}"
        )
    return parsed


def limit(value: str) -> int:
    """Parse --limit: a whole number from 1 to MAX_LIMIT."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_LIMIT:
        raise ArgumentTypeError(f"must be a whole number from 1 to {MAX_LIMIT}, got {value!r}")
    return number


class Command(BaseCommand):
    help = (
        "Run a schedule's past occurrences with START <= fire time < END: each becomes one "
        "Execution of kind backfill, which the scheduler runs; one recorded missed or skipped "
        "runs again as its next attempt, one that ran is left alone (docs/backfill.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", help="The schedule's job id.")
        parser.add_argument(
            "--start",
            type=instant,
            required=True,
            help="The first instant, included: ISO 8601 with its offset (2026-01-01T00:00Z).",
        )
        parser.add_argument(
            "--end",
            type=instant,
            required=True,
            help="The instant the range stops before (excluded), not after now.",
        )
        parser.add_argument(
            "--limit",
            type=limit,
            default=DEFAULT_LIMIT,
            help=f"Refuse a range of more occurrences than this (default {DEFAULT_LIMIT}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List each occurrence and what would happen to it; write nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        job_id, start, end = options["job_id"], options["start"], options["end"]
        dry_run = options["dry_run"]
        self.stdout.write(
            f"{'Previewing' if dry_run else 'Backfilling'} {job_id!r} from "
            f"{start.isoformat()} to {end.isoformat()} (limit {options['limit']})..."
        )
        try:
            result = backfill_job(job_id, start, end, limit=options["limit"], dry_run=dry_run)
        except SchedulesError as exc:
            option = getattr(exc, "field", None)  # named as the option it came from
            if option in ("start", "end", "limit"):
                raise CommandError(f"--{option}: {exc}") from exc
            raise CommandError(str(exc)) from exc
        shown = dry_run or options["verbosity"] >= 2
        for occurrence in result.occurrences if shown else ():
            was = f" (recorded {occurrence.status})" if occurrence.status else ""
            self.stdout.write(f"  {occurrence.fire_time.isoformat()}  {occurrence.action}{was}")
        counts = (
            f"{len(result.occurrences)} occurrence(s): {result.created} {NEW}, "
            f"{result.retried} {RERUN}, {result.left_alone} left alone"
        )
        if dry_run:
            self.stdout.write(f"Would backfill {counts}. Nothing was written.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Backfilled {counts}: the scheduler runs them."))
