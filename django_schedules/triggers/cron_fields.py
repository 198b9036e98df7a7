"""CronTrigger's field expressions: the APScheduler keyword fields and crontab's five fields,
parsed into sorted tuples of allowed values (and day-of-month items, which depend on the month).
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from functools import lru_cache
from typing import Any

from django_schedules.exceptions import TriggerError
from django_schedules.triggers._common import fail

OWNER = "CronTrigger"
FIELD_NAMES = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
MIN_VALUES = {
    "year": 1970,
    "month": 1,
    "day": 1,
    "week": 1,
    "day_of_week": 0,
    "hour": 0,
    "minute": 0,
    "second": 0,
}
MAX_VALUES = {
    "year": 9999,
    "month": 12,
    "day": 31,
    "week": 53,
    "day_of_week": 6,
    "hour": 23,
    "minute": 59,
    "second": 59,
}
# APScheduler 3: a field left out after the least significant given one takes its minimum.
DEFAULT_VALUES = {
    "year": "*",
    "month": "1",
    "day": "1",
    "week": "*",
    "day_of_week": "*",
    "hour": "0",
    "minute": "0",
    "second": "0",
}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
POSITIONS = ("1st", "2nd", "3rd", "4th", "5th", "last")

_SEPARATOR = re.compile(r" *, *")
_ALL = re.compile(r"\*(?:/([0-9]+))?$")
_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?(?:/([0-9]+))?$")
_NAMES = re.compile(r"([a-z]+)(?:-([a-z]+))?$", re.IGNORECASE)
_POSITION = re.compile(r"(1st|2nd|3rd|4th|5th|last) +([a-z]+)$", re.IGNORECASE)
_LAST = re.compile(r"last$", re.IGNORECASE)

# A day-of-month item: ("range", first, last or None, step) | ("nth", position 0-5, weekday)
# | ("last",). Position 5 means the last such weekday of the month.
DayItem = tuple[Any, ...]

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month", "day_of_week")
CRONTAB_RANGES = {
    "minute": (0, 59),
    "hour": (0, 23),
    "day_of_month": (1, 31),
    "month": (1, 12),
    "day_of_week": (0, 7),
}
CRONTAB_NAMES = {
    "month": {name: i + 1 for i, name in enumerate(MONTHS)},
    "day_of_week": {name: (i + 1) % 7 for i, name in enumerate(WEEKDAYS)},
}


CRONTAB_OWNER = "CronTrigger.from_crontab"
CRONTAB_MAX = 500  # characters of a crontab line, once its runs of spaces are one space


def crontab_line(expr: str) -> str:
    """A crontab line with its fields separated by one space.

    Fields are split on spaces and tabs only, as cron splits a line: ``str.split()`` would
    also split on Unicode spaces (a no-break space), which cron reads as part of a field, so
    any other space character is refused, as is a line over ``CRONTAB_MAX`` characters.
    """
    odd = next((c for c in expr if c.isspace() and c not in " \t"), None)
    if odd is not None:
        fail(
            CRONTAB_OWNER,
            "crontab",
            expr,
            f"separate its fields with spaces or tabs only, as cron does (found U+{ord(odd):04X})",
        )
    text = " ".join(part for part in re.split(r"[ \t]+", expr) if part)
    if len(text) > CRONTAB_MAX:
        fail(CRONTAB_OWNER, "crontab", expr, f"is too long (over {CRONTAB_MAX} characters)")
    return text


def year_kinds(years: tuple[int, ...] | None = None) -> list[int]:
    """One year of each kind the day rule tells apart, from `years` (None or all 8,030: any).

    Which days match in a year depends only on whether it and the year before are leap years
    and on the weekday of its 1 January: 21 kinds, all of them between 2001 and 2060.
    """
    pool = range(2001, 2061) if years is None or len(years) == 8030 else years
    found: dict[tuple[bool, int, bool], int] = {}
    for year in pool:
        key = (calendar.isleap(year), date(year, 1, 1).weekday(), calendar.isleap(year - 1))
        found.setdefault(key, year)
        if len(found) == 21:
            break
    return list(found.values())


def _bad(field: str, expr: str, rule: str, owner: str = OWNER) -> TriggerError:
    # The argument at fault: the cron field's own keyword, or the crontab line it was read from.
    argument = "crontab" if owner == CRONTAB_OWNER else field
    return TriggerError(
        f"Bad {field} field {expr!r} in {owner}: {rule}",
        argument,
        value=expr,
        rule=rule,
        part=field,
    )


def _parse_items(name: str, expr: str) -> list[str]:
    items = _SEPARATOR.split(expr.strip())
    if any(not item for item in items):
        raise _bad(name, expr, "has an empty item")
    return items


def _range_values(
    name: str, expr: str, first: int, last: int | None, step: int | None
) -> tuple[int, int | None, int | None]:
    """Validate a range item as APScheduler 3 does; return (first, last, step)."""
    lo, hi = MIN_VALUES[name], MAX_VALUES[name]
    if step == 0:
        raise _bad(name, expr, "a step must be at least 1")
    if last is None and step is None:
        last = first
    if last is not None and first > last:
        raise _bad(name, expr, f"range start {first} is after its end {last}")
    if first < lo:
        raise _bad(name, expr, f"{first} is below the minimum {lo}")
    if last is not None and last > hi:
        raise _bad(name, expr, f"{last} is above the maximum {hi}")
    if first > hi:
        raise _bad(name, expr, f"{first} is above the maximum {hi}")
    span = (last or hi) - first  # APScheduler's rule, `or` included
    if step is not None and step > span:
        raise _bad(name, expr, f"the step {step} is larger than the range it steps through")
    return first, last, step


def _parse_range_item(name: str, expr: str, item: str) -> tuple[int, int | None, int | None]:
    lo, hi = MIN_VALUES[name], MAX_VALUES[name]
    match = _ALL.match(item)
    if match:
        step = int(match.group(1)) if match.group(1) else None
        if step == 0:
            raise _bad(name, expr, "a step must be at least 1")
        if step is not None and step > hi - lo:
            raise _bad(name, expr, f"the step {step} is larger than the range {lo}-{hi}")
        return lo, None, step
    match = _RANGE.match(item)
    if match:
        first_s, last_s, step_s = match.groups()
        if max(len(first_s), len(last_s or ""), len(step_s or "")) > 5:
            raise _bad(name, expr, "a number is out of range")
        return _range_values(
            name,
            expr,
            int(first_s),
            int(last_s) if last_s else None,
            int(step_s) if step_s else None,
        )
    names = MONTHS if name == "month" else WEEKDAYS if name == "day_of_week" else None
    match = _NAMES.match(item)
    if names is not None and match:
        first_n, last_n = match.group(1).lower(), (match.group(2) or "").lower()
        if first_n not in names or (last_n and last_n not in names):
            raise _bad(name, expr, f"unknown name in {item!r}; use {', '.join(names)}")
        offset = 1 if name == "month" else 0
        first = names.index(first_n) + offset
        last = names.index(last_n) + offset if last_n else None
        return _range_values(name, expr, first, last, None)
    raise _bad(name, expr, f"cannot read {item!r}")


def parse_static(name: str, expr: str) -> tuple[int, ...]:
    values: set[int] = set()
    hi = MAX_VALUES[name]
    for item in _parse_items(name, expr):
        first, last, step = _parse_range_item(name, expr, item)
        values.update(range(first, (hi if last is None else last) + 1, step or 1))
    return tuple(sorted(values))


def parse_day(expr: str) -> tuple[DayItem, ...]:
    items: list[DayItem] = []
    for item in _parse_items("day", expr):
        match = _POSITION.match(item)
        if match:
            weekday = match.group(2).lower()
            if weekday not in WEEKDAYS:
                raise _bad("day", expr, f"unknown weekday {match.group(2)!r} in {item!r}")
            items.append(("nth", POSITIONS.index(match.group(1).lower()), WEEKDAYS.index(weekday)))
        elif _LAST.match(item):
            items.append(("last",))
        else:
            first, last, step = _parse_range_item("day", expr, item)
            items.append(("range", first, last, step))
    return tuple(dict.fromkeys(items))


def _crontab_number(name: str, token: str, expr: str) -> int:
    lo, hi = CRONTAB_RANGES[name]
    names = CRONTAB_NAMES.get(name, {})
    lowered = token.lower()
    if lowered in names:
        return names[lowered]
    if not token.isascii() or not token.isdigit() or len(token) > 4:
        raise _bad(name, expr, f"cannot read {token!r}", CRONTAB_OWNER)
    value = int(token)
    if not lo <= value <= hi:
        raise _bad(name, expr, f"{value} is outside {lo}-{hi}", CRONTAB_OWNER)
    return value


def parse_crontab_field(name: str, expr: str, whole: str) -> set[int]:
    """Parse one crontab field as Debian cron and cronsim read it."""
    lo, hi = CRONTAB_RANGES[name]
    owner = CRONTAB_OWNER
    values: set[int] = set()
    for item in expr.split(","):
        if not item:
            raise _bad(name, expr, "has an empty item", owner)
        body, slash, step_s = item.partition("/")
        step = 1
        if slash:
            if not step_s.isascii() or not step_s.isdigit() or len(step_s) > 4:
                raise _bad(name, expr, f"cannot read the step in {item!r}", owner)
            step = int(step_s)
            if step == 0:
                raise _bad(name, expr, "a step must be at least 1", owner)
        if body == "*":
            first, last = lo, hi
        elif "-" in body:
            first_s, _, last_s = body.partition("-")
            first = _crontab_number(name, first_s, expr)
            last = _crontab_number(name, last_s, expr)
            if last < first:
                raise _bad(name, expr, f"range start {first} is after its end {last}", owner)
        else:
            first = _crontab_number(name, body, expr)
            last = hi if slash else first  # `a/n` means a through the maximum, every n
        values.update(range(first, last + 1, step))
    if name == "day_of_week" and 7 in values:
        values.discard(7)
        values.add(0)  # 7 is Sunday too
    return values


@lru_cache(maxsize=1024)
def value_table(values: tuple[int, ...], size: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return (values, t) where t[x] is the smallest value >= x (or `size`), x in 0..size."""
    allowed = set(values)
    table = [size] * (size + 1)
    nxt = size
    for x in range(size - 1, -1, -1):
        if x in allowed:
            nxt = x
        table[x] = nxt
    return values, tuple(table)


@lru_cache(maxsize=256)
def year_table(values: tuple[int, ...]) -> tuple[tuple[int, ...], frozenset[int]]:
    return values, frozenset(values)
