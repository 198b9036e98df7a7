"""Schedules as a document: ``manage.py exportschedules`` writes one, ``importschedules
--file`` reads it back.

The document is a JSON object (or the same in YAML)::

    {"format": "django-schedules", "version": 1, "schedules": [{"id": "digest", ...}]}

Each schedule carries every ``add_job`` option that is stored in a column, under its
``add_job`` keyword (``EXPORTED``, derived from ``options.OPTIONS``), with its trigger in
stored form (``trigger.to_dict()``). What a schedule's row holds besides is its history in this
database, not its definition: ``NOT_EXPORTED`` says why for each such field, and a test keeps
the two lists and the model in step. The exclusion calendars are a top-level ``"calendars"``
list beside ``"schedules"`` (``CALENDAR_FIELDS`` of each); a reader refuses a top-level key it
does not know, so an older version never imports half of a newer document.

The mapping is pure (documents in, unsaved ``Schedule`` rows out); the command reads and writes
through ``store``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from django_schedules import calendars
from django_schedules.api import build_schedule, trigger_json
from django_schedules.exceptions import InvalidSchedule, JobNotRegistered, SchedulesError
from django_schedules.models import Calendar, Schedule
from django_schedules.options import OPTIONS, short, storable_text
from django_schedules.triggers import trigger_from_dict

FORMAT = "django-schedules"
VERSION = 1
TOP_LEVEL = ("format", "version", "calendars", "schedules")  # "calendars" may be absent
# An exclusion calendar's exported fields (all of the model's but its key and updated_at).
CALENDAR_FIELDS = ("name", "timezone", "dates", "ranges", "weekly", "yearly", "description")
# Every add_job option stored in a column, under its add_job keyword: what a schedule is.
EXPORTED = tuple(option for option in OPTIONS if option.column is not None)
EXPORTED_NAMES = tuple(option.name for option in EXPORTED)
REQUIRED = ("id", "func", "trigger")
# The Schedule fields not exported, and why (tests/management/test_exports.py checks that every
# model field is either exported or named here).
NOT_EXPORTED = {
    "id": "the row's primary key in this database",
    "trigger_kind": "it goes with the trigger (its 'kind')",
    "next_run_at": "computed from the trigger at import, as add_job does",
    "failures_in_a_row": "a count of this database's runs: an import starts afresh",
    "runs_started": "a count of this database's runs: an import starts afresh",
    "overlaps_skipped": "a count of this database's runs: an import starts afresh",
    "overlaps_buffered": "a count of this database's runs: an import starts afresh",
    "last_error": "this database's history",
    "last_error_at": "this database's history",
    "version": "this database's change counter",
    "created_at": "this database's history",
    "updated_at": "this database's history",
}


class DocumentError(SchedulesError, ValueError):
    """A document that cannot be imported; the message names the job id, field and value."""


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    """The schedule's exported options, as JSON data."""
    return {option.name: _plain(getattr(schedule, str(option.column))) for option in EXPORTED}


def calendar_to_dict(calendar: Calendar) -> dict[str, Any]:
    return {name: getattr(calendar, name) for name in CALENDAR_FIELDS}


def export_document(
    schedules: Iterable[Schedule], calendars: Iterable[Calendar] = ()
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "calendars": [calendar_to_dict(calendar) for calendar in calendars],
        "schedules": [schedule_to_dict(schedule) for schedule in schedules],
    }


def document_calendars(document: Mapping[str, Any]) -> list[Calendar]:
    """The unsaved calendars of a document (whose envelope ``document_entries`` checked),
    each entry checked as ``add_calendar`` checks it; raise DocumentError naming it."""
    entries = document.get("calendars", [])
    if not isinstance(entries, list):
        raise DocumentError(f"calendars must be a list, got {short(entries)}")
    found: dict[str, Calendar] = {}
    for index, entry in enumerate(entries):
        where = f"calendars[{index}]"
        if not isinstance(entry, Mapping):
            raise DocumentError(f"{where} must be an object, got {short(entry)}")
        if isinstance(entry.get("name"), str):
            where = f"calendar {entry['name']!r}"
        unknown = sorted(str(key) for key in entry if key not in CALENDAR_FIELDS)
        if unknown:
            raise DocumentError(f"{where}: unknown field {', '.join(map(repr, unknown))}")
        try:
            name = calendars.check_name(entry.get("name"))
            checked = calendars.check_entries(
                entry.get("timezone", "UTC"),
                *(entry.get(kind, []) for kind in ("dates", "ranges", "weekly", "yearly")),
            )
        except SchedulesError as exc:
            raise DocumentError(f"{where}: {exc}") from exc
        description = entry.get("description", "")
        if not isinstance(description, str) or storable_text(description):
            raise DocumentError(f"{where}: description must be text, got {short(description)}")
        if name in found:
            raise DocumentError(f"calendar {name!r} appears twice in the file")
        found[name] = Calendar(name=name, description=description, **checked)
    return list(found.values())


def calendar_differences(existing: Calendar, wanted: Calendar) -> list[tuple[str, Any, Any]]:
    """The fields in which two calendars of the same name differ: (field, theirs, ours)."""
    return [
        (name, getattr(existing, name), getattr(wanted, name))
        for name in CALENDAR_FIELDS
        if getattr(existing, name) != getattr(wanted, name)
    ]


def document_entries(document: Any) -> list[Mapping[str, Any]]:
    """The schedules of a document, once its envelope is checked; raise DocumentError."""
    if not isinstance(document, Mapping):
        raise DocumentError(
            f"the document must be an object with {TOP_LEVEL}, got {short(document)}"
        )
    unknown = sorted(str(key) for key in document if key not in TOP_LEVEL)
    if unknown:
        raise DocumentError(
            f"the document has keys this version does not read: {', '.join(unknown)} "
            f"(it reads {', '.join(TOP_LEVEL)})"
        )
    if document.get("format") != FORMAT:
        raise DocumentError(f"format must be {FORMAT!r}, got {short(document.get('format'))}")
    if document.get("version") != VERSION:
        raise DocumentError(
            f"version must be {VERSION} (the version this app writes), "
            f"got {short(document.get('version'))}"
        )
    entries = document.get("schedules")
    if not isinstance(entries, list):
        raise DocumentError(f"schedules must be a list, got {short(entries)}")
    return entries


def build_entry(
    index: int, entry: Any, now: datetime, known_calendars: Collection[str] | None = None
) -> Schedule:
    """The unsaved schedule of ``schedules[index]``; raise DocumentError naming its job id.
    With ``known_calendars`` (the file's and the database's), its calendars are checked
    against those names rather than against the database alone."""
    where = f"schedules[{index}]"
    if not isinstance(entry, Mapping):
        raise DocumentError(f"{where} must be an object, got {short(entry)}")
    job_id = entry.get("id")
    if isinstance(job_id, str):
        where = f"schedule {job_id!r}"
    missing = [name for name in REQUIRED if name not in entry]
    if missing:
        raise DocumentError(f"{where}: {', '.join(missing)} missing (required: {REQUIRED})")
    unknown = sorted(str(key) for key in entry if key not in EXPORTED_NAMES)
    if unknown:
        raise DocumentError(f"{where}: unknown field {', '.join(map(repr, unknown))}")
    stored = entry["trigger"]
    if not isinstance(stored, Mapping):
        raise DocumentError(
            f"{where}: trigger must be a trigger's stored form, got {short(stored)}"
        )
    try:
        trigger = trigger_from_dict(dict(stored))
    except (SchedulesError, TypeError, ValueError, KeyError) as exc:
        raise DocumentError(f"{where}: trigger {short(dict(stored))} is invalid: {exc}") from exc
    kwargs = {name: value for name, value in entry.items() if name != "trigger"}
    named = kwargs.pop("calendars", None) if known_calendars is not None else None
    try:
        schedule = build_schedule(trigger=trigger, now=now, **kwargs)
        if named is not None:
            schedule.calendars = _named_calendars(named, known_calendars or ())
        return schedule
    except JobNotRegistered as exc:
        raise DocumentError(
            f"{where}: func {short(entry['func'])} is not a registered job, so it may not be "
            "scheduled; register it with @django_schedules.job, then import again"
        ) from exc
    except (SchedulesError, TypeError) as exc:
        raise DocumentError(f"{where}: {exc}") from exc


def _named_calendars(value: Any, known: Collection[str]) -> list[str]:
    if not isinstance(value, list):
        raise InvalidSchedule(
            f"calendars must be a list of calendar names, got {short(value)}", "calendars"
        )
    names = list(dict.fromkeys(calendars.check_name(name, "calendars") for name in value))
    for name in names:
        if name not in known:
            raise InvalidSchedule(
                f"calendars: no calendar is named {name!r}, in the file or here", "calendars"
            )
    return names


@dataclass
class ImportPlan:
    create: list[Schedule] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # A schedule with the job id exists and differs: (job id, [(field, ours, theirs)]).
    conflicts: list[tuple[str, list[tuple[str, Any, Any]]]] = field(default_factory=list)


def differences(existing: Schedule, wanted: Schedule) -> list[tuple[str, Any, Any]]:
    """The exported options in which ``existing`` and ``wanted`` differ: (name, theirs, ours)."""
    found = []
    for option in EXPORTED:
        column = str(option.column)
        have, want = getattr(existing, column), getattr(wanted, column)
        if column == "trigger":
            # The stored form as this version writes it, for a like-for-like comparison; a
            # row that no trigger reads differs, and is shown as it is.
            with contextlib.suppress(SchedulesError, TypeError, ValueError):
                have = trigger_json(trigger_from_dict(have))
        if _plain(have) != _plain(want):
            found.append((option.name, _plain(have), _plain(want)))
    return found


def plan_import(wanted: list[Schedule], existing: Mapping[str, Schedule]) -> ImportPlan:
    """Sort the schedules to import into those to create, those already there, and those
    whose job id is taken by a different schedule."""
    plan = ImportPlan()
    for schedule in wanted:
        row = existing.get(schedule.job_id)
        if row is None:
            plan.create.append(schedule)
        elif diff := differences(row, schedule):
            plan.conflicts.append((schedule.job_id, diff))
        else:
            plan.unchanged.append(schedule.job_id)
    return plan
