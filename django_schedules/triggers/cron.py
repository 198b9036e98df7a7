"""CronTrigger: APScheduler 3's keyword fields, and crontab strings with crontab's own meaning.

Fire times are found in naive wall time, field by field, with precomputed value tables
(next allowed hour/minute/second) and a per-month cache of matching days, then turned into an
instant once with zoneinfo. Daylight saving follows Debian cron's rule (docs/triggers.md).
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from django_schedules.exceptions import TriggerError
from django_schedules.triggers._common import (
    COMMON_FIELDS,
    ONE_MICROSECOND,
    ZERO,
    check_window,
    coerce_datetime,
    coerce_jitter,
    coerce_timezone,
    fail,
    gap_end,
    implied_timezone,
    iso,
    repeat_end,
)
from django_schedules.triggers.base import BaseTrigger
from django_schedules.triggers.cron_fields import (
    CRONTAB_FIELDS,
    DEFAULT_VALUES,
    FIELD_NAMES,
    MACROS,
    OWNER,
    DayItem,
    crontab_line,
    parse_crontab_field,
    parse_day,
    parse_static,
    value_table,
    year_kinds,
    year_table,
)
from django_schedules.triggers.describe import cron_day_phrase, time_phrase, zone_and_window

_MONTH_CACHE_SIZE = 4096


class CronTrigger(BaseTrigger):
    """Fire when the wall clock in `timezone` matches every field (APScheduler 3 syntax).

    Fields: `*`, `*/a`, `a`, `a-b`, `a-b/c`, `a/c`, comma lists; month and weekday names;
    in `day`, also `1st`..`5th`/`last` + weekday name and `last`. `day_of_week` 0 is Monday.
    Fields left out after the least significant one given take their minimum, the ones before
    it are `*` (APScheduler's rule), so `CronTrigger(hour=9)` fires at 09:00:00 every day.
    """

    kind: ClassVar[str] = "cron"
    dict_fields: ClassVar[frozenset[str]] = (
        frozenset({"year", "month", "day", "week", "day_of_week", "hour", "minute", "second"})
        | {"crontab"}
        | COMMON_FIELDS
    )

    # Set once in __init__/from_crontab through `_set`.
    _fields: dict[str, str]
    _crontab: str | None
    _exprs: dict[str, str]
    _fixed_time: bool
    _utc: bool
    _month_cache: dict[int, tuple[int, ...]]
    _start_utc: datetime | None
    _end_utc: datetime | None
    _years: tuple[int, ...]
    _year_set: frozenset[int]
    _months: tuple[int, ...]
    _next_month: tuple[int, ...]
    _hours: tuple[int, ...]
    _minutes: tuple[int, ...]
    _seconds: tuple[int, ...]
    _next_hour: tuple[int, ...]
    _next_minute: tuple[int, ...]
    _next_second: tuple[int, ...]
    _h0: int
    _m0: int
    _s0: int
    _day_items: tuple[DayItem, ...] | None
    _dom: frozenset[int] | None
    _dows: frozenset[int] | None
    _weeks: frozenset[int] | None
    _day_or: bool

    def __init__(
        self,
        year: int | str | None = None,
        month: int | str | None = None,
        day: int | str | None = None,
        week: int | str | None = None,
        day_of_week: int | str | None = None,
        hour: int | str | None = None,
        minute: int | str | None = None,
        second: int | str | None = None,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        timezone: Any = None,
        jitter: float | None = None,
    ) -> None:
        given = {
            "year": year,
            "month": month,
            "day": day,
            "week": week,
            "day_of_week": day_of_week,
            "hour": hour,
            "minute": minute,
            "second": second,
        }
        exprs: dict[str, str] = {}
        explicit: dict[str, str] = {}
        remaining = sum(value is not None for value in given.values())
        for name in FIELD_NAMES:
            value = given[name]
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int | str):
                    fail(OWNER, f"{name} field", value, "must be an int or a string", argument=name)
                text = str(value).strip()
                if len(text) > 500:
                    fail(OWNER, f"{name} field", value, "is too long", argument=name)
                exprs[name] = explicit[name] = text
                remaining -= 1
            elif remaining == 0 and explicit:
                exprs[name] = DEFAULT_VALUES[name]
            else:
                exprs[name] = "*"
        self._init_common(
            start_date, end_date, implied_timezone(timezone, start_date, end_date, OWNER), jitter
        )
        sets = {
            name: parse_static(name, exprs[name])
            for name in FIELD_NAMES
            if name not in ("day", "day_of_week")
        }
        day_items = parse_day(exprs["day"])
        dows = parse_static("day_of_week", exprs["day_of_week"])
        self._set(
            _fields=explicit,
            _crontab=None,
            _exprs=exprs,
            _fixed_time=not exprs["minute"].startswith("*") and not exprs["hour"].startswith("*"),
        )
        self._init_tables(
            years=sets["year"],
            months=sets["month"],
            hours=sets["hour"],
            minutes=sets["minute"],
            seconds=sets["second"],
        )
        all_days = day_items == (("range", 1, None, None),)
        self._set(
            _day_items=None if all_days else day_items,
            _dom=None,
            _dows=None if len(dows) == 7 else frozenset(dows),
            _weeks=None if len(sets["week"]) == 53 else frozenset(sets["week"]),
            _day_or=False,
        )
        if self._never_fires():
            raise TriggerError(
                f"Bad day field {exprs['day']!r} in CronTrigger: with month="
                f"{exprs['month']!r}, week={exprs['week']!r}, day_of_week="
                f"{exprs['day_of_week']!r} and year={exprs['year']!r} no date ever matches",
                "day",
            )

    @classmethod
    def from_crontab(
        cls,
        expr: str,
        timezone: Any = None,
        *,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        jitter: float | None = None,
    ) -> CronTrigger:
        """Build a trigger from a five-field crontab string, with crontab's meaning.

        Day of week 0 and 7 are Sunday; names are accepted; when both day of month and day of
        week are restricted (neither starts with `*`) a day matching either fires (the OR
        rule); macros @yearly @annually @monthly @weekly @daily @midnight @hourly.
        """
        self = cls.__new__(cls)
        if not isinstance(expr, str):
            fail("CronTrigger.from_crontab", "crontab", expr, "must be a string")
        text = crontab_line(expr)
        expanded = MACROS.get(text.lower(), text)
        if expanded.startswith("@"):
            fail(
                "CronTrigger.from_crontab",
                "crontab",
                expr,
                "unknown macro; known: " + " ".join(MACROS),
            )
        parts = expanded.split(" ")  # crontab_line left single spaces between fields
        if len(parts) != 5:
            fail(
                "CronTrigger.from_crontab",
                "crontab",
                expr,
                f"needs 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}",
            )
        values = {
            name: parse_crontab_field(name, part, expr)
            for name, part in zip(CRONTAB_FIELDS, parts, strict=True)
        }
        self._init_common(
            start_date, end_date, implied_timezone(timezone, start_date, end_date, OWNER), jitter
        )
        minute, hour, dom, month, dow = parts
        self._set(
            _fields={},
            _crontab=text,
            _exprs={
                "year": "*",
                "month": month,
                "day": dom,
                "week": "*",
                "day_of_week": dow,
                "hour": hour,
                "minute": minute,
                "second": "0",
            },
            _fixed_time=not minute.startswith("*") and not hour.startswith("*"),
        )
        self._init_tables(
            years=range(1970, 10000),
            months=values["month"],
            hours=values["hour"],
            minutes=values["minute"],
            seconds=(0,),
        )
        # Debian cron: if either day field starts with '*', a day must match both; else either.
        day_or = not dom.startswith("*") and not dow.startswith("*")
        py_dows = frozenset((value + 6) % 7 for value in values["day_of_week"])
        self._set(
            _day_items=None,
            _dom=frozenset(values["day_of_month"]),
            _dows=py_dows,
            _weeks=None,
            _day_or=day_or,
        )
        if self._never_fires():
            raise TriggerError(
                f"Bad crontab {expr!r} in CronTrigger.from_crontab: day-of-month {dom!r} "
                f"never falls in month {month!r}, so it can never fire",
                "crontab",
            )
        return self

    # -- construction helpers -------------------------------------------------------------

    def _init_common(self, start_date: Any, end_date: Any, timezone: Any, jitter: Any) -> None:
        tz = coerce_timezone(timezone, OWNER)
        start = coerce_datetime(start_date, tz, OWNER, "start_date")
        end = coerce_datetime(end_date, tz, OWNER, "end_date")
        check_window(start, end, end_date, OWNER)
        self._set(
            timezone=tz,
            start_date=start,
            end_date=end,
            _start_utc=None if start is None else start.astimezone(UTC),
            _end_utc=None if end is None else end.astimezone(UTC),
            jitter=coerce_jitter(jitter, OWNER),
            _utc=tz.key in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Zulu", "Zulu", "Etc/GMT"),
            _month_cache={},
        )

    def _init_tables(
        self,
        *,
        years: Iterable[int],
        months: Iterable[int],
        hours: Iterable[int],
        minutes: Iterable[int],
        seconds: Iterable[int],
    ) -> None:
        year_tuple, year_set = year_table(tuple(sorted(set(years))))
        month_tuple, next_month = value_table(tuple(sorted(set(months))), 13)
        hour_tuple, next_hour = value_table(tuple(sorted(set(hours))), 24)
        minute_tuple, next_minute = value_table(tuple(sorted(set(minutes))), 60)
        second_tuple, next_second = value_table(tuple(sorted(set(seconds))), 60)
        self._set(
            _years=year_tuple,
            _year_set=year_set,
            _months=month_tuple,
            _next_month=next_month,
            _hours=hour_tuple,
            _minutes=minute_tuple,
            _seconds=second_tuple,
            _next_hour=next_hour,
            _next_minute=next_minute,
            _next_second=next_second,
            _h0=hour_tuple[0],
            _m0=minute_tuple[0],
            _s0=second_tuple[0],
        )

    def _never_fires(self) -> bool:
        """Return True when no date in any allowed year matches the day fields."""
        months = self._months
        return not any(
            self._compute_month_days(y, m) for y in year_kinds(self._years) for m in months
        )

    # -- the day rule ---------------------------------------------------------------------

    def _month_days(self, year: int, month: int) -> tuple[int, ...]:
        key = year * 16 + month
        cache = self._month_cache
        days = cache.get(key)
        if days is None:
            if len(cache) >= _MONTH_CACHE_SIZE:
                cache.clear()
            days = cache[key] = self._compute_month_days(year, month)
        return days

    def _compute_month_days(self, year: int, month: int) -> tuple[int, ...]:
        first_weekday, ndays = calendar.monthrange(year, month)
        dows = self._dows
        if self._dom is not None:  # crontab
            dom = self._dom
            if dows is None:
                return tuple(d for d in range(1, ndays + 1) if d in dom)
            if self._day_or:
                return tuple(
                    d
                    for d in range(1, ndays + 1)
                    if d in dom or (first_weekday + d - 1) % 7 in dows
                )
            return tuple(
                d for d in range(1, ndays + 1) if d in dom and (first_weekday + d - 1) % 7 in dows
            )
        candidates: Iterable[int]
        if self._day_items is None:
            candidates = range(1, ndays + 1)
        else:
            found: set[int] = set()
            for item in self._day_items:
                if item[0] == "range":
                    _, first, last, step = item
                    stop = ndays if last is None else min(last, ndays)
                    found.update(range(first, stop + 1, step or 1))
                elif item[0] == "nth":
                    _, position, weekday = item
                    first_hit = (weekday - first_weekday) % 7 + 1
                    if position < 5:
                        target = first_hit + position * 7
                    else:
                        target = first_hit + (ndays - first_hit) // 7 * 7
                    if target <= ndays:
                        found.add(target)
                else:
                    found.add(ndays)
            candidates = sorted(found)
        weeks = self._weeks
        result = []
        for d in candidates:
            if dows is not None and (first_weekday + d - 1) % 7 not in dows:
                continue
            if weeks is not None and date(year, month, d).isocalendar()[1] not in weeks:
                continue
            result.append(d)
        return tuple(result)

    # -- the search -----------------------------------------------------------------------

    def _next_wall(self, wall: datetime) -> datetime | None:
        """Return the first matching naive wall time at or after `wall` (whole seconds)."""
        y, mo, d = wall.year, wall.month, wall.day
        h, mi, s = wall.hour, wall.minute, wall.second
        year_set = self._year_set
        next_month = self._next_month
        next_hour, next_minute, next_second = self._next_hour, self._next_minute, self._next_second
        while True:
            if y not in year_set:
                i = bisect_left(self._years, y)
                if i == len(self._years):
                    return None
                y, mo, d, h, mi, s = self._years[i], 1, 1, 0, 0, 0
            m2 = next_month[mo]
            if m2 == 13:
                y, mo, d, h, mi, s = y + 1, 1, 1, 0, 0, 0
                continue
            if m2 != mo:
                mo, d, h, mi, s = m2, 1, 0, 0, 0
            days = self._month_days(y, mo)
            j = bisect_left(days, d)
            if j == len(days):
                if mo == 12:
                    y, mo = y + 1, 1
                else:
                    mo += 1
                d, h, mi, s = 1, 0, 0, 0
                continue
            if days[j] != d:
                d, h, mi, s = days[j], 0, 0, 0
            # The time of day: the first allowed (h, mi, s) at or after the current one.
            h2 = next_hour[h]
            if h2 == h:
                m2 = next_minute[mi]
                if m2 == mi:
                    s2 = next_second[s]
                    if s2 < 60:
                        return datetime(y, mo, d, h, mi, s2)
                    m2 = next_minute[mi + 1]
                if m2 < 60:
                    return datetime(y, mo, d, h, m2, self._s0)
                h2 = next_hour[h + 1]
            if h2 < 24:
                return datetime(y, mo, d, h2, self._m0, self._s0)
            d, h, mi, s = d + 1, 0, 0, 0

    def _at_or_after(self, instant: datetime) -> datetime | None:
        try:
            utc = instant.astimezone(UTC)
            start = self._start_utc
            if start is not None and utc < start:
                utc = start
            if utc.microsecond:
                utc += timedelta(microseconds=1_000_000 - utc.microsecond)
            tz = self.timezone
            local = utc.astimezone(tz)
            if self._utc:
                wall = self._next_wall(local.replace(tzinfo=None))
                fire = None if wall is None else wall.replace(tzinfo=tz)
            elif self._fixed_time:
                fire = self._next_fixed_time(local)
            else:
                fire = self._next_by_the_clock(local)
            if fire is None:
                return None
            end = self._end_utc
            if end is not None and fire.astimezone(UTC) > end:
                return None
            if fire.year == 9999:
                fire.astimezone(UTC)  # raises OverflowError past datetime's range: exhausted
            return fire
        except OverflowError:
            return None

    def _next_fixed_time(self, local: datetime) -> datetime | None:
        # Debian cron: a wall time in a gap fires at the first instant after it; a repeated
        # wall time fires once, at its first occurrence.
        tz = self.timezone
        wall = local.replace(tzinfo=None, fold=0)
        offset = local.utcoffset() or ZERO
        if local.fold:
            # The second pass through a repeated hour: its wall times fired in the first pass.
            wall = repeat_end(wall, tz)
        else:
            before = (local - ONE_MICROSECOND).utcoffset() or ZERO
            if before < offset:
                # `local` is the first instant after a gap; wall times inside the gap fire now.
                wall -= offset - before
        found = self._next_wall(wall)
        if found is None:
            return None
        aware = found.replace(tzinfo=tz)
        o0 = aware.utcoffset() or ZERO
        o1 = found.replace(tzinfo=tz, fold=1).utcoffset() or ZERO
        if o0 < o1:  # in a gap
            return gap_end(found, tz).replace(tzinfo=tz)
        return aware  # normal, or the first occurrence of a repeated time (fold=0)

    def _next_by_the_clock(self, local: datetime) -> datetime | None:
        # Follow the clock: a wall time in a gap does not happen; a repeated one happens twice.
        tz = self.timezone
        wall = local.replace(tzinfo=None, fold=0)
        offset = local.utcoffset() or ZERO
        other = local.replace(fold=1 - local.fold).utcoffset() or ZERO
        if other != offset:
            end = repeat_end(wall, tz)  # `local` is in a repeated hour [end - shift, end)
            found = self._next_wall(wall)
            if found is not None and found < end:
                return found.replace(tzinfo=tz, fold=local.fold)
            if local.fold == 0:
                again = self._next_wall(end - abs(offset - other))
                if again is not None and again < end:
                    return again.replace(tzinfo=tz, fold=1)
            wall_next = found
        else:
            wall_next = self._next_wall(wall)
        while wall_next is not None:
            aware = wall_next.replace(tzinfo=tz)
            o0 = aware.utcoffset() or ZERO
            o1 = wall_next.replace(tzinfo=tz, fold=1).utcoffset() or ZERO
            if o0 >= o1:
                return aware  # normal, or the first pass through a repeated hour
            wall_next = self._next_wall(gap_end(wall_next, tz))
        return None

    # -- value semantics, serialisation, description -----------------------------------------

    @property
    def fixed_time(self) -> bool:
        """True when minute and hour both name fixed values: the Debian DST rule applies."""
        return self._fixed_time

    @property
    def crontab(self) -> str | None:
        """The crontab string this trigger was built from, or None for keyword fields."""
        return self._crontab

    @property
    def fields(self) -> dict[str, str]:
        """Every field's expression after defaults (crontab triggers: the crontab fields)."""
        return dict(self._exprs)

    @classmethod
    def _from_fields(cls, args: dict[str, Any], depth: int) -> CronTrigger:
        if "crontab" not in args:
            return cls(**args)
        args = dict(args)
        expr = args.pop("crontab")
        clash = sorted(set(args) - COMMON_FIELDS)
        if clash:
            raise TriggerError(
                f"Bad field {', '.join(map(repr, clash))} in trigger dict of kind 'cron': "
                "a crontab trigger takes no separate cron fields"
            )
        return cls.from_crontab(expr, **args)

    def to_dict(self) -> dict[str, Any]:
        data = self._base_dict()
        if self._crontab is not None:
            data["crontab"] = self._crontab
        else:
            data.update(self._fields)
        data.update(
            start_date=iso(self.start_date),
            end_date=iso(self.end_date),
            timezone=self.timezone.key,
            jitter=self.jitter,
        )
        return data

    def describe(self) -> str:
        sets = self.value_sets()
        text = time_phrase(sets["hour"], sets["minute"], sets["second"])
        days = cron_day_phrase(
            crontab=self._crontab is not None,
            day=self._exprs["day"],
            day_items=self._day_items or (),
            dom=sorted(self._dom or ()),
            dows=sorted(self._dows or ()),
            day_or=self._day_or,
            weeks=sorted(self._weeks or ()),
            months=sets["month"],
            years=sets["year"],
        )
        return text + (f" {days}" if days else "") + zone_and_window(self)

    def _meaning(self) -> object:
        # The day rule, whichever way it was spelled: the days it picks in each month of each
        # kind of year (crontab's 1-5 and the keyword fields' mon-fri give the same table).
        days = tuple(self._compute_month_days(y, m) for y in year_kinds() for m in range(1, 13))
        return self._window_meaning(), tuple(self.value_sets().values()), days

    @property
    def phase_known(self) -> bool:
        return True

    def wall_values(self) -> tuple[dict[str, tuple[int, ...]], bool]:
        return self.value_sets(), self._fixed_time

    def dst_repeat_note(self) -> str:
        if self._fixed_time:
            return super().dst_repeat_note()
        return "; this schedule follows the clock and fires in both"

    def dst_gap_wall(self, fire_utc: datetime, start: datetime, end: datetime) -> str:
        if not self._fixed_time:
            return ""
        found = self._next_wall(start)
        return f"{found:%H:%M}" if found is not None and found < end else ""

    def value_sets(self) -> dict[str, tuple[int, ...]]:
        return {
            "year": self._years,
            "month": self._months,
            "hour": self._hours,
            "minute": self._minutes,
            "second": self._seconds,
        }
