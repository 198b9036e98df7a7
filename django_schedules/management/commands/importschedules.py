"""``manage.py importschedules``: read schedules back from ``exportschedules`` (``--file``),
or carry them over from a peer app (``--from django-celery-beat``).

A dry run by default: it prints what it would create, what is already there and what
conflicts; ``--commit`` writes. A file is imported whole or not at all: any bad entry, any
unregistered callable, or any job id taken by a different schedule stops it before anything
is written, naming the job id. django-apscheduler's jobs are pickled, which this app never
reads (it says why).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_schedules import store
from django_schedules.api import add_job
from django_schedules.changes import announce
from django_schedules.changes import now as _now
from django_schedules.exceptions import SchedulesError
from django_schedules.exports import (
    DocumentError,
    build_entry,
    calendar_differences,
    document_calendars,
    document_entries,
    plan_import,
)
from django_schedules.importers import APSCHEDULER_REFUSAL, ImportItem, from_celery_beat
from django_schedules.management.commands.exportschedules import yaml_module
from django_schedules.models import Calendar, Schedule, ScheduleSource

PEERS = {"django-celery-beat": "django_celery_beat", "django-apscheduler": "django_apscheduler"}
PROGRESS_EVERY = 1000


class Command(BaseCommand):
    help = (
        "Import schedules from a file written by exportschedules (--file), or from "
        "django-celery-beat (--from); a dry run unless --commit. django-apscheduler's pickled "
        "jobs are not read; the command says why."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--file", help="A file written by exportschedules ('-' for standard input)."
        )
        source.add_argument("--from", dest="peer", choices=sorted(PEERS), help="The app to read.")
        parser.add_argument(
            "--format",
            choices=("json", "yaml"),
            help="The file's format (default: yaml for a .yaml or .yml file, else json).",
        )
        parser.add_argument(
            "--commit", action="store_true", help="Create the schedules (default: dry run)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["file"] is not None:
            self._import_file(options["file"], options["format"], options["commit"])
            return
        if options["format"] is not None:
            raise CommandError("--format goes with --file")
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

    # --- a file of exportschedules ---

    def _read(self, path: str, fmt: str | None) -> Any:
        if fmt is None:
            fmt = "yaml" if path.lower().endswith((".yaml", ".yml")) else "json"
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read --file {path!r}: {exc}") from exc
        if fmt == "yaml":
            yaml = yaml_module()
            try:
                return yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise CommandError(f"--file {path!r} is not valid YAML: {exc}") from exc
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CommandError(f"--file {path!r} is not valid JSON: {exc}") from exc

    def _import_file(self, path: str, fmt: str | None, commit: bool) -> None:
        now = _now()
        try:
            document = self._read(path, fmt)
            entries = document_entries(document)
            file_calendars = document_calendars(document)
            new_calendars = self._plan_calendars(file_calendars, commit)
            known = {c.name for c in file_calendars} | set(store.calendar_names())
            wanted: list[Schedule] = []
            seen: set[str] = set()
            for index, entry in enumerate(entries):
                schedule = build_entry(index, entry, now, known)
                if schedule.job_id in seen:
                    raise DocumentError(f"schedule {schedule.job_id!r} appears twice in the file")
                seen.add(schedule.job_id)
                wanted.append(schedule)
                if (index + 1) % PROGRESS_EVERY == 0:
                    self.stderr.write(f"checked {index + 1} of {len(entries)} schedules")
        except DocumentError as exc:
            raise CommandError(f"{exc}. Nothing was written.") from exc
        plan = plan_import(wanted, store.find_schedules(seen))
        verb = "Created" if commit else "Would create"
        for schedule in plan.create:
            self.stdout.write(f"{verb} {schedule.job_id}")
        for job_id in plan.unchanged:
            self.stdout.write(f"Unchanged {job_id} (the same schedule is there)")
        for job_id, diff in plan.conflicts:
            self.stderr.write(f"Conflict {job_id}: a different schedule has this job id:")
            for name, theirs, ours in diff:
                self.stderr.write(f"    {name}: {theirs!r} here, {ours!r} in the file")
        summary = (
            f"{len(plan.create)} {'created' if commit else 'to create'}, "
            f"{len(plan.unchanged)} unchanged, {len(plan.conflicts)} conflicts"
        )
        if plan.conflicts:
            raise CommandError(
                f"{summary}. Nothing was written: the job ids "
                f"{', '.join(job_id for job_id, _ in plan.conflicts)} are taken by different "
                "schedules; remove them (or those entries of the file) and import again."
            )
        if commit:
            try:
                store.insert_schedules(plan.create, calendars=new_calendars)
            except SchedulesError as exc:
                raise CommandError(f"{exc}. Nothing was written.") from exc
            for schedule in plan.create:
                announce(schedule, "added")
        self.stdout.write(summary + ("" if commit else " (dry run: pass --commit to write)"))

    def _plan_calendars(self, wanted: list[Calendar], commit: bool) -> list[Calendar]:
        """The file's calendars to create; one of the same name that differs here stops the
        import (DocumentError), as a schedule's does."""
        create = []
        for calendar in wanted:
            existing = store.get_calendar(calendar.name)
            if existing is None:
                create.append(calendar)
                verb = "Created" if commit else "Would create"
                self.stdout.write(f"{verb} calendar {calendar.name}")
            elif diff := calendar_differences(existing, calendar):
                fields = "; ".join(f"{n}: {a!r} here, {b!r} in the file" for n, a, b in diff)
                raise DocumentError(
                    f"calendar {calendar.name!r} exists here and differs ({fields})"
                )
            else:
                self.stdout.write(f"Unchanged calendar {calendar.name}")
        return create

    # --- a peer app ---

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
