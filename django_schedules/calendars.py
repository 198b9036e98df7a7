"""Exclusion calendars, as pure time math: is an instant inside a calendar, and the first
instant at or after it outside all of a schedule's calendars. No Django, no clock, no query:
the planner asks these questions of the calendars the claim loaded (docs/calendars.md).

A calendar has a time zone and four kinds of entries, each judged by the wall clock in that
zone:

- ``dates``: whole days, ``"2026-12-25"`` (from 00:00 to the next 00:00);
- ``ranges``: ``(start, end)`` pairs, half open. Two dates cover both days whole
  (``("2026-12-24", "2026-12-26")`` is three days); two datetimes cover ``[start, end)``
  (naive ones on the calendar's wall clock);
- ``weekly``: windows such as ``"sat 00:00-06:00"``, ``"mon-fri 12:00-13:00"``,
  ``"sat,sun 00:00-24:00"``; an end before the start crosses midnight
  (``"fri 22:00-02:00"`` runs into Saturday);
- ``yearly``: a day every year, ``"12-25"`` (``"02-29"`` only in leap years).

Daylight saving time: membership is by wall clock. A window whose wall times do not exist
that day (a spring-forward gap) covers only the wall times that do; a wall time that happens
twice (a fall-back fold) is inside on both passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django_schedules.exceptions import InvalidSchedule

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_IN_DAY = 24 * 60
# How far free_from looks for a free instant before it gives up: the calendars then cover
# "forever" as far as a schedule is concerned.
MAX_STEPS = 10_000
MAX_ENTRIES = 10_000  # entries of one kind in one calendar
MAX_NAME = 100
_WEEKLY_RE = re.compile(
    r"^\s*(?P<days>[a-z]{3}(?:\s*[-,]\s*[a-z]{3})*)\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)
_YEARLY_RE = re.compile(r"^(?:--)?(?P<month>\d{1,2})-(?P<day>\d{1,2})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_.:@ -]{1,100}$")
NAME_RULE = "1 to 100 characters among letters, digits, spaces, '_', '.', ':', '@' and '-'"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


# --- parsing: each returns the canonical JSON value, or raises InvalidSchedule(field) ---


def check_name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value) or value != value.strip():
        raise InvalidSchedule(f"{field} must be {NAME_RULE}, got {_short(value)}", field)
    return value


def check_timezone(value: Any, field: str = "timezone") -> str:
    if isinstance(value, ZoneInfo):
        value = value.key
    if isinstance(value, str) and value:
        try:
            ZoneInfo(value)
            return value
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise InvalidSchedule(
        f"{field} must be an IANA time zone name such as 'Europe/Berlin', got {_short(value)}",
        field,
    )


def _items(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidSchedule(f"{field} must be a list, got {_short(value)}", field)
    items = list(value)
    if len(items) > MAX_ENTRIES:
        raise InvalidSchedule(
            f"{field} may hold at most {MAX_ENTRIES} entries, got {len(items)}", field
        )
    return items


def _day(value: Any, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidSchedule(
        f"{field} must hold dates (a date or 'YYYY-MM-DD'), got {_short(value)}", field
    )


def check_dates(value: Any, field: str = "dates") -> list[str]:
    return sorted({_day(item, field).isoformat() for item in _items(value, field)})


def _bound(value: Any, field: str) -> date | datetime:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidSchedule(
        f"{field} must hold (start, end) pairs of dates or datetimes (ISO 8601), "
        f"got {_short(value)}",
        field,
    )


def check_ranges(value: Any, field: str = "ranges") -> list[list[str]]:
    result = []
    for item in _items(value, field):
        if isinstance(item, str) and "/" in item:
            item = item.split("/", 1)
        if isinstance(item, str | bytes) or not isinstance(item, Sequence) or len(item) != 2:
            raise InvalidSchedule(
                f"{field} must hold (start, end) pairs, got {_short(item)}", field
            )
        start, end = _bound(item[0], field), _bound(item[1], field)
        if isinstance(start, datetime) != isinstance(end, datetime):
            raise InvalidSchedule(
                f"{field}: a range's start and end must both be dates or both datetimes, "
                f"got {_short(item)}",
                field,
            )
        if isinstance(start, datetime) and isinstance(end, datetime):
            aware = [d.tzinfo is not None and d.utcoffset() is not None for d in (start, end)]
            if aware[0] != aware[1]:
                raise InvalidSchedule(
                    f"{field}: a range's datetimes must both be naive or both carry an "
                    f"offset, got {_short(item)}",
                    field,
                )
            if not start < end:
                raise InvalidSchedule(
                    f"{field}: a range must end after it starts, got {_short(item)}", field
                )
        elif end < start:
            raise InvalidSchedule(
                f"{field}: a range's last day must not be before its first, got {_short(item)}",
                field,
            )
        result.append([start.isoformat(), end.isoformat()])
    return sorted(result)


def _minutes(text: str, field: str, entry: Any, *, end: bool) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    top = 24 if end else 23
    if not (0 <= hours <= top and 0 <= minutes <= 59) or (hours == 24 and minutes):
        raise InvalidSchedule(f"{field}: {text!r} is not a time of day in {_short(entry)}", field)
    return hours * 60 + minutes


def _weekdays(spec: str, field: str, entry: Any) -> list[int]:
    days: list[int] = []
    for part in spec.replace(" ", "").split(","):
        ends = part.split("-")
        if any(end not in WEEKDAYS for end in ends) or len(ends) > 2:
            raise InvalidSchedule(
                f"{field}: days must be among {', '.join(WEEKDAYS)}, got {_short(entry)}", field
            )
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        days.extend((first + i) % 7 for i in range((last - first) % 7 + 1))
    return sorted(set(days))


def _weekly_windows(entry: Any, field: str) -> list[tuple[int, int, int]]:
    """An entry as (weekday, start minute, end minute) windows within one day each."""
    match = _WEEKLY_RE.fullmatch(entry.lower()) if isinstance(entry, str) else None
    if match is None:
        raise InvalidSchedule(
            f"{field} must hold windows such as 'sat 00:00-06:00' or 'mon-fri 12:00-13:00', "
            f"got {_short(entry)}",
            field,
        )
    start = _minutes(match["start"], field, entry, end=False)
    end = _minutes(match["end"], field, entry, end=True)
    if start == end:
        raise InvalidSchedule(f"{field}: a window must not be empty, got {_short(entry)}", field)
    windows = []
    for day in _weekdays(match["days"], field, entry):
        if start < end:
            windows.append((day, start, end))
        else:  # crosses midnight into the next day
            windows.append((day, start, MINUTES_IN_DAY))
            if end:
                windows.append(((day + 1) % 7, 0, end))
    return windows


def check_weekly(value: Any, field: str = "weekly") -> list[str]:
    result = []
    for entry in _items(value, field):
        _weekly_windows(entry, field)
        result.append(" ".join(entry.lower().split()))
    return result


def check_yearly(value: Any, field: str = "yearly") -> list[str]:
    result = set()
    for entry in _items(value, field):
        if isinstance(entry, date):
            entry = f"{entry.month:02d}-{entry.day:02d}"
        match = _YEARLY_RE.fullmatch(entry.strip()) if isinstance(entry, str) else None
        month, day = (int(match["month"]), int(match["day"])) if match else (0, 0)
        try:
            date(2000, month, day)  # a leap year: 02-29 is a day
        except ValueError:
            raise InvalidSchedule(
                f"{field} must hold days of the year as 'MM-DD' (such as '12-25'), "
                f"got {_short(entry)}",
                field,
            ) from None
        result.add(f"{month:02d}-{day:02d}")
    return sorted(result)


# --- the calendar, ready for questions ---


def wall_instant(naive: datetime, zone: tzinfo, after: datetime | None = None) -> datetime:
    """The first instant (UTC) after `after` at which the wall clock in `zone` reads `naive`
    or later. In a fold, the first pass; in a gap, the end of the gap."""
    found = []
    for fold in (0, 1):
        moment = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if moment.astimezone(zone).replace(tzinfo=None) == naive and (
            after is None or moment > after
        ):
            found.append(moment)
    if found:
        return min(found)
    first = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    low, high = min(first, second), max(first, second)
    if low == high:  # both passes are at or before `after`: move on by the least step
        return (after or low) + timedelta(microseconds=1)
    while high - low > timedelta(seconds=1):  # in a gap: where the wall clock jumps past it
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    if after is not None and high <= after:
        return after + timedelta(microseconds=1)
    return high


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


@dataclass(frozen=True)
class Calendar:
    """A calendar's entries, parsed once: ask ``covers`` and ``end_of``."""

    name: str
    timezone: str = "UTC"
    dates: frozenset[date] = frozenset()
    ranges: tuple[tuple[datetime, datetime], ...] = ()  # UTC, half open
    weekly: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    yearly: frozenset[tuple[int, int]] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def covers(self, instant: datetime) -> bool:
        return self.end_of(instant) is not None

    def end_of(self, instant: datetime) -> datetime | None:
        """None when `instant` is outside; else the end (UTC, exclusive) of the longest of
        this calendar's entries covering it (another entry may start right there)."""
        zone = self.zone
        instant = instant.astimezone(UTC)
        local = instant.astimezone(zone).replace(tzinfo=None)
        day = local.date()
        ends: list[datetime] = []
        if day in self.dates or (day.month, day.day) in self.yearly:
            ends.append(wall_instant(_midnight(day + timedelta(days=1)), zone, instant))
        for start, end in self.ranges:
            if start <= instant < end:
                ends.append(end)
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        for first, last in self.weekly.get(day.weekday(), ()):
            if first <= minute < last:
                ends.append(wall_instant(_midnight(day) + timedelta(minutes=last), zone, instant))
        return max(ends) if ends else None


def build(
    name: str,
    *,
    timezone: Any = "UTC",
    dates: Any = None,
    ranges: Any = None,
    weekly: Any = None,
    yearly: Any = None,
) -> Calendar:
    """Check every entry (InvalidSchedule naming the field and the value) and return the
    calendar ready for questions."""
    return from_entries(name, check_entries(timezone, dates, ranges, weekly, yearly))


def check_entries(
    timezone: Any, dates: Any, ranges: Any, weekly: Any, yearly: Any
) -> dict[str, Any]:
    """The canonical JSON form of a calendar's entries (what the model stores)."""
    return {
        "timezone": check_timezone(timezone),
        "dates": check_dates(dates),
        "ranges": check_ranges(ranges),
        "weekly": check_weekly(weekly),
        "yearly": check_yearly(yearly),
    }


def from_entries(name: str, entries: dict[str, Any]) -> Calendar:
    """A calendar from its stored entries (already checked: ``check_entries``)."""
    zone = ZoneInfo(entries["timezone"])
    ranges = []
    for start_text, end_text in entries.get("ranges", ()):
        start, end = _bound(start_text, "ranges"), _bound(end_text, "ranges")
        if isinstance(start, datetime) and isinstance(end, datetime):
            pair = tuple(
                d.astimezone(UTC) if d.utcoffset() is not None else wall_instant(d, zone)
                for d in (start, end)
            )
        else:
            after = end + timedelta(days=1)
            pair = (wall_instant(_midnight(start), zone), wall_instant(_midnight(after), zone))
        ranges.append((pair[0], pair[1]))
    weekly: dict[int, list[tuple[int, int]]] = {}
    for entry in entries.get("weekly", ()):
        for day, first, last in _weekly_windows(entry, "weekly"):
            weekly.setdefault(day, []).append((first, last))
    return Calendar(
        name=name,
        timezone=entries["timezone"],
        dates=frozenset(date.fromisoformat(d) for d in entries.get("dates", ())),
        ranges=tuple(sorted(ranges)),
        weekly={day: tuple(sorted(w)) for day, w in weekly.items()},
        yearly=frozenset(
            (int(m), int(d)) for m, d in (y.split("-") for y in entries.get("yearly", ()))
        ),
    )


def names_in(value: Any) -> list[str]:
    """The calendar names a stored ``Schedule.calendars`` holds: a list of strings as the API
    writes it; anything else a row written behind the API's back holds counts as none."""
    if not isinstance(value, list):
        return []
    return [name for name in value if isinstance(name, str)]


def covering(calendars: Iterable[Calendar], instant: datetime) -> Calendar | None:
    """The first of `calendars` that covers `instant`, or None."""
    for calendar in calendars:
        if calendar.covers(instant):
            return calendar
    return None


def free_from(calendars: Sequence[Calendar], instant: datetime) -> datetime | None:
    """The first instant at or after `instant` outside all of `calendars` (UTC); None when
    they cover more than MAX_STEPS entries in a row (as good as forever)."""
    moment = instant.astimezone(UTC)
    for _ in range(MAX_STEPS):
        ends = [end for c in calendars if (end := c.end_of(moment)) is not None]
        if not ends:
            return moment
        moment = max(ends)
    return None
