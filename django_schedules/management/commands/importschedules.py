"""``manage.py importschedules --from django-celery-beat``: carry schedules over from a peer app.

A dry run by default: it prints what it would create and what it cannot carry over; ``--commit``
writes. django-apscheduler's jobs are pickled, which this app never reads (it says why).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_schedules import store
from django_schedules.api import add_job
from django_schedules.exceptions import SchedulesError
from django_schedules.importers import APSCHEDULER_REFUSAL, ImportItem, from_celery_beat
from django_schedules.models import ScheduleSource

PEERS = {"django-celery-beat": "django_celery_beat", "django-apscheduler": "django_apscheduler"}


class Command(BaseCommand):
    help = (
        "Import schedules from django-celery-beat (a dry run unless --commit). "
        "django-apscheduler's pickled jobs are not read; the command says why."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from", dest="peer", required=True, choices=sorted(PEERS), help="The app to read."
        )
        parser.add_argument(
            "--commit", action="store_true", help="Create the schedules (default: dry run)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        peer = options["peer"]
        if not apps.is_installed(PEERS[peer]):
            raise CommandError(
                f"{peer} is not installed ({PEERS[peer]!r} is not in INSTALLED_APPS), so there "
                "is nothing to import from. Add it to INSTALLED_APPS next to django_schedules "
                "for the import, and remove it afterwards."
            )
        if peer == "django-apscheduler":
            self._refuse_apscheduler()
        self._import(
            [from_celery_beat(task) for task in store.celery_beat_tasks()], options["commit"]
        )

    def _refuse_apscheduler(self) -> None:
        jobs = store.apscheduler_job_ids()
        for job_id, next_run in jobs:
            self.stdout.write(f"Not imported: {job_id} (next run {next_run})")
        raise CommandError(
            f"{len(jobs)} django-apscheduler jobs not imported. {APSCHEDULER_REFUSAL}"
        )

    def _import(self, items: list[ImportItem], commit: bool) -> None:
        created = skipped = 0
        for item in items:
            if item.error is None and store.find_schedule(item.job_id) is not None:
                item.error = f"a schedule with job id {item.job_id!r} already exists"
            if item.error is None and item.add_job_kwargs is not None:
                try:
                    kwargs = {**item.add_job_kwargs, "id": item.job_id}
                    if commit:
                        add_job(source=ScheduleSource.ADMIN, **kwargs)
                    else:  # validate exactly as add_job does, without writing
                        from django_schedules.api import build_schedule

                        build_schedule(**kwargs)
                except SchedulesError as exc:
                    item.error = str(exc)
            if item.error is not None:
                skipped += 1
                self.stderr.write(f"Cannot import {item.source}: {item.error}")
                continue
            created += 1
            verb = "Created" if commit else "Would create"
            self.stdout.write(f"{verb} {item.job_id} from {item.source}")
            for note in item.notes:
                self.stdout.write(f"    note: {note}")
        summary = f"{created} {'created' if commit else 'to create'}, {skipped} not importable"
        self.stdout.write(summary + ("" if commit else " (dry run: pass --commit to write)"))
