"""The exclusion calendars' queries: the API's reads and writes, and the claim's one read per
batch of the calendars its due rows name (parsed once per calendar version)."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from django_schedules import calendars
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import Calendar, Schedule
from django_schedules.store.transactions import database_alias, write_transaction

# Parsed calendars by (name, updated_at): a claim parses a calendar again only when it changed.
_PARSED: dict[tuple[str, datetime], calendars.Calendar] = {}
_CACHE_MAX = 1_000


def known_calendars(names: Collection[str], using: str | None = None) -> set[str]:
    """Those of `names` that name a calendar."""
    alias = database_alias(using)
    return set(
        Calendar.objects.using(alias).filter(name__in=list(names)).values_list("name", flat=True)
    )


def calendar_names(using: str | None = None) -> list[str]:
    """Every calendar's name, in order."""
    return list(Calendar.objects.using(database_alias(using)).values_list("name", flat=True))


def get_calendar(name: str, using: str | None = None) -> Calendar | None:
    return Calendar.objects.using(database_alias(using)).filter(name=name).first()


def all_calendars(using: str | None = None) -> list[Calendar]:
    return list(Calendar.objects.using(database_alias(using)).order_by("name"))


def save_calendar(
    name: str, entries: dict[str, Any], description: str, using: str | None = None
) -> tuple[Calendar, bool]:
    """Create the calendar `name`, or replace its entries; return it and whether it is new."""
    alias = database_alias(using)
    with write_transaction(alias):
        calendar, created = Calendar.objects.using(alias).update_or_create(
            name=name, defaults={**entries, "description": description}
        )
    return calendar, created


def users_of(name: str, using: str | None = None) -> list[str]:
    """The job ids of the schedules naming the calendar `name`."""
    alias = database_alias(using)
    rows = Schedule.objects.using(alias).exclude(calendars=[]).values_list("job_id", "calendars")
    return sorted(job_id for job_id, names in rows if name in calendars.names_in(names))


def delete_calendar(name: str, using: str | None = None) -> None:
    """Delete the calendar `name`; refused (InvalidSchedule, field ``name``) while a schedule
    names it."""
    alias = database_alias(using)
    with write_transaction(alias):
        users = users_of(name, alias)
        if users:
            raise InvalidSchedule(
                f"calendar {name!r} is used by the schedules {', '.join(users[:10])}; "
                "remove it from them first",
                "name",
            )
        Calendar.objects.using(alias).filter(name=name).delete()


def parsed(calendar: Calendar) -> calendars.Calendar:
    """The calendar's entries ready for the planner's questions, parsed once per version."""
    key = (calendar.name, calendar.updated_at)
    found = _PARSED.get(key)
    if found is None:
        found = calendars.from_entries(calendar.name, calendar.entries())
        if len(_PARSED) >= _CACHE_MAX:
            _PARSED.clear()
        _PARSED[key] = found
    return found


def calendars_by_name(names: Collection[str], using: str) -> dict[str, calendars.Calendar]:
    """The calendars named, parsed (one query)."""
    if not names:
        return {}
    rows = Calendar.objects.using(using).filter(name__in=list(names))
    return {row.name: parsed(row) for row in rows}


def attach_calendars(rows: Sequence[Any], using: str) -> None:
    """Give each due row (``calendar_names``: its JSON text) its parsed calendars: one query
    for the whole batch, none when no row names a calendar. A name no calendar has any more
    is left out (a calendar in use cannot be deleted: ``delete_calendar``)."""
    wanted: dict[int, list[str]] = {}
    for row in rows:
        text = row.calendar_names
        if text and text != "[]":
            try:
                names = calendars.names_in(json.loads(text))
            except ValueError:  # not JSON: written behind the API's back
                names = []
            if names:
                wanted[row.pk] = names
    if not wanted:
        return
    found = calendars_by_name({n for names in wanted.values() for n in names}, using)
    for row in rows:
        if row.pk in wanted:
            row.calendars = tuple(found[n] for n in wanted[row.pk] if n in found)
