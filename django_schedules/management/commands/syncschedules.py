"""``manage.py syncschedules``: make the database match ``SCHEDULES_JOBS``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_schedules.exceptions import SchedulesError
from django_schedules.sync import sync_schedules


class Command(BaseCommand):
    help = (
        "Make the schedules declared in SCHEDULES_JOBS match the database: create new ones, "
        "update changed ones, disable removed ones (history is kept). Admin-made schedules "
        "are left alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would change; write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            plan = sync_schedules(dry_run=options["dry_run"])
        except SchedulesError as exc:
            raise CommandError(f"SCHEDULES_JOBS is invalid, nothing was written: {exc}") from exc
        dry = options["dry_run"]
        lines = [
            *(f"{'Would create' if dry else 'Created'} {s.job_id}" for s in plan.create),
            *(
                f"{'Would update' if dry else 'Updated'} {s.job_id} ({', '.join(fields)})"
                for s, fields in plan.update
            ),
            *(f"{'Would disable' if dry else 'Disabled'} {s.job_id}" for s in plan.disable),
        ]
        for line in lines:
            self.stdout.write(line)
        for job_id in plan.conflicts:
            self.stderr.write(
                f"Left alone {job_id}: a schedule with this id exists that was not made from "
                "SCHEDULES_JOBS; rename one of them."
            )
        self.stdout.write(
            f"{len(plan.create)} created, {len(plan.update)} updated, "
            f"{len(plan.disable)} disabled, {len(plan.unchanged)} unchanged, "
            f"{len(plan.conflicts)} conflicting" + (" (dry run: nothing written)" if dry else "")
        )
