"""Delete finished executions older than a given age, in batches."""

from __future__ import annotations

import re
from argparse import ArgumentTypeError
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from django_schedules import store

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
AGE = re.compile(r"^(\d+)([smhd])$")


# Older than a century is older than any row: a longer age would only overflow the date.
MAX_AGE = timedelta(days=36_500)


def age(value: str) -> timedelta:
    """Parse --older-than: a whole number greater than zero followed by s, m, h or d."""
    match = AGE.match(value.strip())
    if match is None or int(match.group(1)) == 0:
        raise ArgumentTypeError(
            "must be a whole number greater than zero followed by s, m, h or d "
            f"(such as 30d or 12h), got {value!r}"
        )
    try:
        parsed: timedelta | None = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        parsed = None
    if parsed is None or parsed > MAX_AGE:
        raise ArgumentTypeError(f"must be at most 36500d (a century), got {value!r}")
    return parsed


def batch_size(value: str) -> int:
    """Parse --batch-size: a whole number from 1 to 100000."""
    try:
        size = int(value)
    except ValueError as exc:
        raise ArgumentTypeError(f"must be a whole number from 1 to 100000, got {value!r}") from exc
    if not 1 <= size <= 100_000:
        raise ArgumentTypeError(f"must be a whole number from 1 to 100000, got {value!r}")
    return size


class Command(BaseCommand):
    help = (
        "Delete finished executions (succeeded, failed, missed, skipped, lost) created longer "
        "ago than --older-than, in batches so no lock is held for long."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=age,
            required=True,
            help="An age such as 30d, 12h, 45m or 90s.",
        )
        parser.add_argument(
            "--batch-size",
            type=batch_size,
            default=1000,
            help="Rows deleted per transaction (default 1000).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        before = timezone.now() - options["older_than"]
        if options["dry_run"]:
            count = store.count_prunable_executions(before)
            self.stdout.write(
                f"Would delete {count} execution(s) created before {before:%Y-%m-%d %H:%M:%S %Z}."
            )
            return
        total = 0
        for deleted in store.prune_executions(before, batch_size=options["batch_size"]):
            total += deleted
            if options["verbosity"] >= 2:
                self.stdout.write(f"  deleted {total} so far")
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {total} execution(s) created before {before:%Y-%m-%d %H:%M:%S %Z}."
            )
        )
