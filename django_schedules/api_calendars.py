"""Exclusion calendars in code: ``add_calendar``, ``remove_calendar``, ``get_calendar`` and
``import_calendar_ics`` (docs/calendars.md). Every value is checked by the pure
``calendars`` module before anything is written; a bad one raises ``InvalidSchedule`` naming
the field and the value, and writes nothing.

``icalendar`` (the ``calendars`` extra) is imported only by ``ics_entries``, when a file is
read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django_schedules import calendars, store
from django_schedules.conf import conf
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import Calendar
from django_schedules.options_json import short, storable_text

__all__ = ["add_calendar", "get_calendar", "import_calendar_ics", "remove_calendar"]

MAX_DESCRIPTION = 2_000
MISSING_EXTRA = (
    "reading an iCalendar file needs the icalendar package: "
    "pip install 'django-schedules[calendars]'"
)


def add_calendar(
    name: str,
    dates: Iterable[date | str] | None = None,
    ranges: Iterable[tuple[Any, Any]] | None = None,
    weekly: Iterable[str] | None = None,
    yearly: Iterable[str] | None = None,
    timezone: str | None = None,
    *,
    description: str = "",
    ics: str | Path | IO[bytes] | IO[str] | None = None,
) -> Calendar:
    """Create the exclusion calendar `name`, or replace the entries of the one with that name
    (so calling it at every start-up is safe); return it.

    ``dates``: days (``date`` objects or ``"YYYY-MM-DD"``). ``ranges``: ``(start, end)`` pairs
    of dates (both days whole) or datetimes (half open; naive ones in ``timezone``).
    ``weekly``: windows such as ``"sat 00:00-06:00"``. ``yearly``: ``"MM-DD"`` days.
    ``timezone``: the wall clock of all of them (default: the project's ``TIME_ZONE``).
    ``ics``: an iCalendar file (a path or an open file) whose events are added to the ranges
    and days (needs the ``calendars`` extra).
    """
    name = calendars.check_name(name)
    zone = calendars.check_timezone(conf.TIME_ZONE if timezone is None else timezone)
    entries = calendars.check_entries(zone, dates, ranges, weekly, yearly)
    if ics is not None:
        found = ics_entries(ics, zone)
        entries["dates"] = calendars.check_dates([*entries["dates"], *found["dates"]])
        entries["ranges"] = calendars.check_ranges([*entries["ranges"], *found["ranges"]])
        entries["yearly"] = calendars.check_yearly([*entries["yearly"], *found["yearly"]])
    given: object = description  # callers may pass anything
    if not isinstance(given, str) or len(given) > MAX_DESCRIPTION:
        raise InvalidSchedule(
            f"description must be a string of at most {MAX_DESCRIPTION} characters, "
            f"got {short(description)}",
            "description",
        )
    if storable_text(description):
        raise InvalidSchedule(
            f"description = {short(description)} cannot be stored: {storable_text(description)}",
            "description",
        )
    calendar, _created = store.save_calendar(name, entries, description)
    return calendar


def import_calendar_ics(
    name: str, path_or_file: str | Path | IO[bytes] | IO[str], timezone: str | None = None
) -> Calendar:
    """Create or replace the calendar `name` with the events of an iCalendar file."""
    return add_calendar(name, timezone=timezone, ics=path_or_file)


def get_calendar(name: str) -> Calendar | None:
    """The calendar `name`, or None."""
    return store.get_calendar(name)


def remove_calendar(name: str) -> None:
    """Delete the calendar `name`; refused while a schedule names it (InvalidSchedule)."""
    store.delete_calendar(calendars.check_name(name))


# --- iCalendar ---


def _read(source: str | Path | IO[bytes] | IO[str]) -> bytes:
    if isinstance(source, str | Path):
        try:
            return Path(source).read_bytes()
        except OSError as exc:
            raise InvalidSchedule(f"ics: cannot read {str(source)!r}: {exc}", "ics") from exc
    data = source.read()
    return data.encode() if isinstance(data, str) else data


def ics_entries(source: str | Path | IO[bytes] | IO[str], zone: str) -> dict[str, list[Any]]:
    """The days, ranges and yearly days of an iCalendar file's VEVENTs: an all-day event's
    days (DTEND exclusive, as RFC 5545 says), a timed event's [DTSTART, DTEND) (floating
    times on the calendar's wall clock), and an all-day single day repeated with exactly
    ``RRULE:FREQ=YEARLY`` as a yearly day. Any other RRULE, and RDATE, are refused, naming
    the event."""
    try:
        import icalendar
    except ImportError as exc:
        raise InvalidSchedule(MISSING_EXTRA, "ics") from exc
    raw = _read(source)
    try:
        parsed = icalendar.Calendar.from_ical(raw)
    except Exception as exc:  # the library's parse errors are plain ValueErrors and more
        raise InvalidSchedule(f"ics: not an iCalendar file: {exc}", "ics") from exc
    found: dict[str, list[Any]] = {"dates": [], "ranges": [], "yearly": []}
    for event in parsed.walk("VEVENT"):
        summary = str(event.get("SUMMARY", "")) or str(event.get("UID", "an event"))
        start = event.get("DTSTART")
        if start is None:
            raise InvalidSchedule(f"ics: the event {summary!r} has no DTSTART", "ics")
        first = start.dt
        end_prop, duration = event.get("DTEND"), event.get("DURATION")
        if end_prop is not None:
            end = end_prop.dt
        elif duration is not None:
            end = first + duration.dt
        else:  # RFC 5545: a day for a date, nothing for a datetime (kept as one second)
            end = first + (timedelta(days=1) if not isinstance(first, datetime) else timedelta(0))
        rule = event.get("RRULE")
        if event.get("RDATE") is not None:
            raise InvalidSchedule(
                f"ics: the event {summary!r} repeats with RDATE, which is not supported", "ics"
            )
        if not isinstance(first, datetime):  # all day
            last = end - timedelta(days=1) if end > first else first
            if rule is not None:
                if dict(rule) != {"FREQ": ["YEARLY"]} or last != first:
                    raise InvalidSchedule(
                        f"ics: the event {summary!r} repeats with RRULE:{rule.to_ical().decode()}"
                        "; only a single all-day event with RRULE:FREQ=YEARLY is supported",
                        "ics",
                    )
                found["yearly"].append(f"{first.month:02d}-{first.day:02d}")
            elif last == first:
                found["dates"].append(first)
            else:
                found["ranges"].append((first, last))
            continue
        if rule is not None:
            raise InvalidSchedule(
                f"ics: the timed event {summary!r} repeats with "
                f"RRULE:{rule.to_ical().decode()}, which is not supported",
                "ics",
            )
        if not isinstance(end, datetime) or end <= first:
            end = first + timedelta(seconds=1)
        if (first.tzinfo is None) != (end.tzinfo is None):
            end = end.replace(tzinfo=first.tzinfo)
        found["ranges"].append((first, end))
    del zone  # floating times stay naive: the calendar reads them on its wall clock
    return found
