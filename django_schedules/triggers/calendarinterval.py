"""CalendarIntervalTrigger: every N years/months/weeks/days at one wall-clock time."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from django_schedules.exceptions import TriggerError
from django_schedules.triggers._common import (
    COMMON_FIELDS,
    check_aware,
    check_window,
    coerce_datetime,
    coerce_jitter,
    coerce_number,
    coerce_timezone,
    fail,
    iso,
    localize,
)
from django_schedules.triggers.base import BaseTrigger
from django_schedules.triggers.describe import amount, clock, every, zone_and_window

OWNER = "CalendarIntervalTrigger"
_MAX_DATE = date(9999, 12, 29)
_MAX_STEPS = 200_000  # only for mixed month-and-day steps, which must be walked one by one


class CalendarIntervalTrigger(BaseTrigger):
    """Fire every `years`/`months`/`weeks`/`days` at `hour:minute:second` wall-clock time.

    As APScheduler 4's trigger: the first date is `start_date`'s date; each next date adds the
    years and months (a day that does not exist in the target month, such as 31 April, is
    skipped, moving on by another step), then the weeks and days. The time is read by the
    fixed-time rule: in a spring-forward gap it fires at the first instant after the gap, in a
    repeated hour at the first occurrence. Without a `start_date` the dates count from the
    date of `now` (`with_start_date` pins them). A date `end_date` includes that whole day.
    """

    kind: ClassVar[str] = "calendarinterval"
    dict_fields: ClassVar[frozenset[str]] = (
        frozenset({"years", "months", "weeks", "days", "hour", "minute", "second"}) | COMMON_FIELDS
    )

    _steps: dict[str, int]
    _clock: dict[str, int]
    _time: time
    _month_step: int
    _day_step: int
    _start_utc: datetime | None
    _end_utc: datetime | None

    def __init__(
        self,
        years: int = 0,
        months: int = 0,
        weeks: int = 0,
        days: int = 0,
        hour: int = 0,
        minute: int = 0,
        second: int = 0,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        timezone: Any = None,
        jitter: float | None = None,
    ) -> None:
        steps = {
            "years": int(coerce_number(years, OWNER, "years", integral=True, maximum=9999)),
            "months": int(coerce_number(months, OWNER, "months", integral=True, maximum=99999)),
            "weeks": int(coerce_number(weeks, OWNER, "weeks", integral=True, maximum=521_000)),
            "days": int(coerce_number(days, OWNER, "days", integral=True, maximum=3_650_000)),
        }
        if not any(steps.values()):
            fail(
                OWNER,
                "interval",
                "all zero",
                "give at least one of years, months, weeks, days",
                argument="years",
            )
        clock = {
            "hour": int(coerce_number(hour, OWNER, "hour", integral=True, maximum=23)),
            "minute": int(coerce_number(minute, OWNER, "minute", integral=True, maximum=59)),
            "second": int(coerce_number(second, OWNER, "second", integral=True, maximum=59)),
        }
        tz = coerce_timezone(timezone, OWNER)
        start = coerce_datetime(start_date, tz, OWNER, "start_date")
        end = coerce_datetime(end_date, tz, OWNER, "end_date", date_as_end=True)
        check_window(start, end, end_date, OWNER)
        self._set(
            timezone=tz,
            start_date=start,
            end_date=end,
            jitter=coerce_jitter(jitter, OWNER),
            _steps=steps,
            _clock=clock,
            _time=time(clock["hour"], clock["minute"], clock["second"]),
            _month_step=steps["years"] * 12 + steps["months"],
            _day_step=steps["weeks"] * 7 + steps["days"],
            _start_utc=None if start is None else start.astimezone(UTC),
            _end_utc=None if end is None else end.astimezone(UTC),
        )

    def with_start_date(self, start: datetime | date) -> CalendarIntervalTrigger:
        """Return a copy that counts its dates from `start` (a date, or an aware datetime)."""
        if isinstance(start, datetime):
            check_aware(start, OWNER, "start")
        return CalendarIntervalTrigger(
            **self._steps,
            **self._clock,
            start_date=start,
            end_date=self.end_date,
            timezone=self.timezone,
            jitter=self.jitter,
        )

    def pinned(self, now: datetime) -> CalendarIntervalTrigger:
        if self.start_date is not None:
            return self
        day = now.astimezone(self.timezone).date()
        if self.end_date is not None and day > self.end_date.date():
            return self  # nothing left to pin: every fire would be after end_date
        return self.with_start_date(day)

    def _fire(self, day: date) -> datetime:
        return localize(datetime.combine(day, self._time), self.timezone)

    def _first_date_from(self, anchor: date, target: date) -> date | None:
        """Return the first date of the sequence starting at `anchor` on or after `target`."""
        months, days = self._month_step, self._day_step
        if target <= anchor:
            return anchor
        if not months:
            count = -(-(target - anchor).days // days)
            try:
                return anchor + timedelta(days=count * days)
            except OverflowError:
                return None
        if not days:
            start_index = anchor.year * 12 + anchor.month - 1
            target_index = target.year * 12 + target.month - 1
            n = max(0, (target_index - start_index) // months)
            while True:
                year, month0 = divmod(start_index + n * months, 12)
                if year > _MAX_DATE.year:
                    return None
                if anchor.day <= calendar.monthrange(year, month0 + 1)[1]:
                    found = date(year, month0 + 1, anchor.day)
                    if found >= target:
                        return found
                n += 1
        current: date | None = anchor
        for _ in range(_MAX_STEPS):
            if current is None or current >= target:
                return current
            current = self._step(current)
        raise TriggerError(
            f"Bad interval in {OWNER}: more than {_MAX_STEPS} steps from {anchor} to {target}"
        )

    def _step(self, day: date) -> date | None:
        index = day.year * 12 + day.month - 1
        while True:
            index += self._month_step
            year, month0 = divmod(index, 12)
            if year > _MAX_DATE.year:
                return None
            if day.day <= calendar.monthrange(year, month0 + 1)[1]:
                break
        try:
            return date(year, month0 + 1, day.day) + timedelta(days=self._day_step)
        except OverflowError:
            return None

    def _next_date(self, day: date) -> date | None:
        if not self._month_step:
            try:
                return day + timedelta(days=self._day_step)
            except OverflowError:
                return None
        return self._step(day)

    def _at_or_after(self, instant: datetime) -> datetime | None:
        if self.start_date is None:
            pinned = self.pinned(instant)
            return None if pinned is self else pinned._at_or_after(instant)
        utc = instant.astimezone(UTC)
        if self._start_utc is not None and utc < self._start_utc:
            utc = self._start_utc
        anchor = self.start_date.date()
        target = utc.astimezone(self.timezone).date() - timedelta(days=1)
        day = self._first_date_from(anchor, max(anchor, min(target, _MAX_DATE)))
        while day is not None and day <= _MAX_DATE:
            fire = self._fire(day)
            fire_utc = fire.astimezone(UTC)
            if self._end_utc is not None and fire_utc > self._end_utc:
                return None
            if fire_utc >= utc:
                return fire
            day = self._next_date(day)
        return None

    def to_dict(self) -> dict[str, Any]:
        data = self._base_dict()
        data.update(self._steps)
        data.update(self._clock)
        data.update(
            start_date=iso(self.start_date),
            end_date=iso(self.end_date),
            timezone=self.timezone.key,
            jitter=self.jitter,
        )
        return data

    def describe(self) -> str:
        steps = self._steps
        parts = [
            amount(steps[unit], unit[:-1])
            for unit in ("years", "months", "weeks", "days")
            if steps[unit]
        ]
        hms = self._clock
        text = f"{every(parts)} at {clock(hms['hour'], hms['minute'], hms['second'])}"
        return text + zone_and_window(self)

    def _meaning(self) -> object:
        return self._window_meaning(), self._month_step, self._day_step, self._time

    def dst_gap_wall(self, fire_utc: datetime, start: datetime, end: datetime) -> str:
        wall = datetime.combine(start.date(), self._time)
        return f"{wall:%H:%M}" if start <= wall < end else ""
