"""Shared helpers for the trigger tests: round-trips, zone transitions, reference matchers."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from django_schedules.triggers import BaseTrigger, trigger_from_dict

T = TypeVar("T", bound=BaseTrigger)

# Zones the issue names: 1-hour shifts both hemispheres, a 30-minute shift, no DST at all,
# and a zone whose transitions happen at midnight.
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
    "UTC",
]


def rt(trigger: T) -> T:
    """Assert that `trigger` survives to_dict/trigger_from_dict and pickling; return it."""
    data = trigger.to_dict()
    assert data["version"] == 1
    assert data["kind"] in ("date", "interval", "cron", "calendarinterval", "and", "or")
    again = trigger_from_dict(data)
    assert again == trigger, (again, trigger)
    assert hash(again) == hash(trigger)
    assert again.to_dict() == data
    assert pickle.loads(pickle.dumps(trigger)) == trigger  # noqa: S301 (our own bytes)
    return trigger


def isos(times: list[datetime]) -> list[str]:
    return [t.isoformat() for t in times]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@cache
def transitions(zone: str, first_year: int = 1995, last_year: int = 2045) -> tuple[datetime, ...]:
    """Return every UTC instant in the span at which `zone`'s UTC offset changes.

    Found by sampling every 3 days and bisecting to the microsecond; independent of the code
    under test.
    """
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    here = datetime(first_year, 1, 1, tzinfo=UTC)
    stop = datetime(last_year, 1, 1, tzinfo=UTC)
    step = timedelta(days=3)
    while here < stop:
        there = here + step
        if here.astimezone(tz).utcoffset() != there.astimezone(tz).utcoffset():
            lo, hi = here, there
            while hi - lo > timedelta(microseconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=mid.microsecond)
                if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        here = there
    return tuple(found)


def transition_between(zone: str, after: datetime, until: datetime) -> bool:
    """True when `zone` changes its UTC offset at an instant in (after, until]."""
    a, b = after.astimezone(UTC), until.astimezone(UTC)
    return any(a < t <= b for t in transitions(zone))


def is_gap_end(moment: datetime, zone: str) -> bool:
    """True when `moment` is the first instant after a spring-forward gap."""
    tz = ZoneInfo(zone)
    zero = timedelta(0)
    return any(
        t == moment.astimezone(UTC)
        and ((t - timedelta(microseconds=1)).astimezone(tz).utcoffset() or zero)
        < (t.astimezone(tz).utcoffset() or zero)
        for t in transitions(zone)
    )


def wall_is_real(wall: datetime, zone: str) -> bool:
    """True when the naive `wall` time happens in `zone` (it is not in a gap)."""
    tz = ZoneInfo(zone)
    aware = wall.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


def wall_is_repeated(wall: datetime, zone: str) -> bool:
    tz = ZoneInfo(zone)
    first = wall.replace(tzinfo=tz, fold=0).utcoffset()
    second = wall.replace(tzinfo=tz, fold=1).utcoffset()
    return first != second and wall_is_real(wall, zone)
