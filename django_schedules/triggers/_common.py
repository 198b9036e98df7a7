"""Argument coercion and wall-clock helpers shared by the triggers. Pure Python, no Django."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django_schedules.exceptions import TriggerError

ZERO = timedelta(0)
ONE_SECOND = timedelta(seconds=1)
ONE_MICROSECOND = timedelta(microseconds=1)
UTC_ZONE = ZoneInfo("UTC")

# Wall-clock classes of a naive local time in a zone.
NORMAL = 0
GAP = 1  # skipped by a spring-forward transition: this wall time never happens
AMBIGUOUS = 2  # repeated by a fall-back transition: this wall time happens twice


def fail(
    owner: str, field: str, value: object, rule: str, *, argument: str | None = ""
) -> NoReturn:
    """Raise the package's one error shape: the field, the value and the rule it broke.

    The error's ``field`` names, as data, the argument at fault: `argument` when given (None:
    no single one), else `field`. Forms place the error by it, never by the message.
    """
    raise TriggerError(
        f"Bad {field} {_show(value)} in {owner}: {rule}",
        field if argument == "" else argument,
        value=value,
        rule=rule,
    )


def _show(value: object) -> str:
    # Dates read better, and match what was typed, in ISO form.
    text = repr(value.isoformat()) if isinstance(value, date) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


# The zone of a trigger built without ``timezone=``. UTC until an application says otherwise:
# the Django app sets it to the project's TIME_ZONE (apps.py), as APScheduler 3 uses the
# host's local zone. It is read when a trigger is built; a built trigger keeps its own zone.
_default_zone: ZoneInfo = UTC_ZONE


def set_default_timezone(value: object) -> ZoneInfo:
    """Set the zone that triggers built without ``timezone=`` get; ``None`` restores UTC."""
    global _default_zone
    _default_zone = UTC_ZONE if value is None else coerce_timezone(value, "set_default_timezone")
    return _default_zone


def get_default_timezone() -> ZoneInfo:
    """The zone that triggers built without ``timezone=`` get (see `set_default_timezone`)."""
    return _default_zone


def coerce_timezone(value: object, owner: str, field: str = "timezone") -> ZoneInfo:
    """Return a ZoneInfo for an IANA name, a ZoneInfo, UTC, or anything with a `.key`/`.zone`.

    ``None`` means the default zone (`set_default_timezone`).
    """
    if value is None:
        return _default_zone
    if isinstance(value, ZoneInfo):
        return value
    if value is UTC:
        return UTC_ZONE
    name: object = value
    if isinstance(value, tzinfo):
        # pytz zones carry their IANA name as `.zone`; dateutil's tz.gettz has none we trust.
        name = getattr(value, "key", None) or getattr(value, "zone", None)
        if not isinstance(name, str):
            fail(owner, field, value, "give an IANA zone name such as 'Europe/Berlin'")
    if not isinstance(name, str) or not name or len(name) > 100:
        fail(owner, field, value, "must be an IANA zone name such as 'Europe/Berlin'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError) as exc:
        raise TriggerError(
            f"Bad {field} {_show(value)} in {owner}: not a known IANA zone", field
        ) from exc


def wall_class(wall: datetime, tz: ZoneInfo) -> int:
    """Classify a naive wall time in `tz` as NORMAL, GAP or AMBIGUOUS."""
    o0 = wall.replace(tzinfo=tz).utcoffset() or ZERO
    o1 = wall.replace(tzinfo=tz, fold=1).utcoffset() or ZERO
    if o0 == o1:
        return NORMAL
    # zoneinfo: fold=0 takes the offset before the transition, fold=1 the one after.
    # Spring forward raises the offset (a gap); falling back lowers it (a repeat).
    return GAP if o0 < o1 else AMBIGUOUS


def _first_wall_where(wall: datetime, tz: ZoneInfo, cls: int) -> datetime:
    """Return the first wall time after `wall` that is not of class `cls` (binary search)."""
    o0 = wall.replace(tzinfo=tz).utcoffset() or ZERO
    o1 = wall.replace(tzinfo=tz, fold=1).utcoffset() or ZERO
    lo, hi = 0, abs(o1 - o0) // ONE_MICROSECOND  # `wall + hi` is past the transition
    while lo < hi:
        mid = (lo + hi) // 2
        if wall_class(wall + timedelta(microseconds=mid), tz) == cls:
            lo = mid + 1
        else:
            hi = mid
    return wall + timedelta(microseconds=lo)


def gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """Return the first real wall time after `wall`, which lies in a spring-forward gap."""
    return _first_wall_where(wall, tz, GAP)


def repeat_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """Return the first wall time after `wall` (in a repeated hour) that happens only once."""
    return _first_wall_where(wall, tz, AMBIGUOUS)


def localize(wall: datetime, tz: ZoneInfo, fold: int = 0) -> datetime:
    """Read a naive wall time in `tz` by the fixed-time rule.

    A time in a spring-forward gap moves to the first instant after the gap; a repeated time
    means its first occurrence, unless `fold` is 1.
    """
    wall = wall.replace(tzinfo=None, fold=0)
    cls = wall_class(wall, tz)
    if cls == GAP:
        return gap_end(wall, tz).replace(tzinfo=tz)
    return wall.replace(tzinfo=tz, fold=fold if cls == AMBIGUOUS else 0)


def implied_timezone(timezone: object, start: object, end: object, owner: str) -> ZoneInfo:
    """APScheduler 3's rule for a trigger built without `timezone`: the zone of an aware
    `start` datetime, else of an aware `end` datetime, else the default zone.

    A zone without an IANA name (a fixed offset such as +02:00) cannot be stored with the
    trigger: the default zone is used then (the aware date keeps its instant).
    """
    if timezone is not None:
        return coerce_timezone(timezone, owner)
    for value in (start, end):
        if isinstance(value, datetime) and value.utcoffset() is not None:
            zone = value.tzinfo
            if isinstance(zone, ZoneInfo):
                return zone
            if zone is UTC:
                return UTC_ZONE
            name = getattr(zone, "key", None) or getattr(zone, "zone", None)  # pytz: .zone
            if isinstance(name, str):
                return coerce_timezone(name, owner)
            break
    return _default_zone


def coerce_datetime(
    value: object, tz: ZoneInfo, owner: str, field: str, *, date_as_end: bool = False
) -> datetime | None:
    """Return `value` as an aware datetime in `tz`.

    Accept an aware or naive datetime, a date (midnight, or the day's last microsecond when
    `date_as_end`), or an ISO 8601 string; naive values are read in `tz` by `localize`.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 64:
            fail(owner, field, value, "must be an ISO 8601 date or date and time")
        try:
            parsed: datetime | date = (
                date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
            )
        except ValueError as exc:
            raise TriggerError(
                f"Bad {field} {_show(value)} in {owner}: must be an ISO 8601 date or date and time"
            ) from exc
        value = parsed
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time.max if date_as_end else time())
    else:
        fail(owner, field, value, "must be a datetime, a date or an ISO 8601 string")
    if dt.tzinfo is not None and dt.utcoffset() is None:
        fail(owner, field, value, "has a tzinfo that gives no UTC offset")
    try:
        aware = localize(dt, tz, dt.fold) if dt.tzinfo is None else dt.astimezone(tz)
        # Its instant must exist in UTC too: 0001-01-01 00:00 at UTC+1 is before year 1 there.
        aware.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise TriggerError(f"Bad {field} {_show(value)} in {owner}: out of range", field) from exc
    return aware


def check_aware(value: object, owner: str, field: str) -> datetime:
    if not isinstance(value, datetime):
        fail(owner, field, value, "must be an aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        fail(owner, field, value, "must be an aware datetime, not a naive one")
    return value


def coerce_jitter(value: object, owner: str) -> float | None:
    """Return the jitter in seconds (None for none); reject bools, negatives, NaN and inf."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(owner, "jitter", value, "must be a number of seconds, at least 0, or None")
    if not (math.isfinite(value) and 0 <= value <= 10**9):
        fail(owner, "jitter", value, "must be a finite number of seconds from 0 to 1e9")
    return float(value) if value else None


def coerce_number(
    value: object, owner: str, field: str, *, integral: bool = False, maximum: float = 1e9
) -> int | float:
    """Return a finite, non-negative number (an int when it is whole); reject bools."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(owner, field, value, "must be a number, at least 0")
    if not (math.isfinite(value) and 0 <= value <= maximum):
        fail(owner, field, value, f"must be a finite number from 0 to {maximum:g}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if integral and not isinstance(value, int):
        fail(owner, field, value, "must be a whole number")
    return value


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def check_window(start: datetime | None, end: datetime | None, raw_end: object, owner: str) -> None:
    if start is not None and end is not None and end.astimezone(UTC) < start.astimezone(UTC):
        fail(owner, "end_date", raw_end, f"is before start_date {start.isoformat()}")


# The dict fields of every trigger that has a window, a zone and jitter.
COMMON_FIELDS = frozenset({"start_date", "end_date", "timezone", "jitter"})
