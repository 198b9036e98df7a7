"""IntervalTrigger: fire every fixed stretch of elapsed time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from django_schedules.exceptions import TriggerError
from django_schedules.triggers._common import (
    COMMON_FIELDS,
    ONE_MICROSECOND,
    check_aware,
    check_window,
    coerce_datetime,
    coerce_jitter,
    coerce_number,
    fail,
    implied_timezone,
    iso,
)
from django_schedules.triggers.base import BaseTrigger
from django_schedules.triggers.describe import interval_phrase, when

OWNER = "IntervalTrigger"
UNITS = ("weeks", "days", "hours", "minutes", "seconds")


class IntervalTrigger(BaseTrigger):
    """Fire every `weeks + days + hours + minutes + seconds` of elapsed time.

    Elapsed time ignores daylight saving: `hours=24` stays 24 hours apart across a DST change.
    Fire times are `start_date + k * interval`, computed exactly in microseconds. Without a
    `start_date` the first fire is `now + interval` (as APScheduler), and later ones follow
    the previous fire; `with_start_date` pins the phase. `timezone` (UTC when None) reads a
    naive `start_date`/`end_date` and is the zone of the results.
    """

    kind: ClassVar[str] = "interval"
    dict_fields: ClassVar[frozenset[str]] = (
        frozenset({"weeks", "days", "hours", "minutes", "seconds"}) | COMMON_FIELDS
    )

    interval: timedelta
    _amounts: dict[str, int | float]
    _step_us: int
    _start_utc: datetime | None
    _end_utc: datetime | None

    def __init__(
        self,
        weeks: float = 0,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        timezone: Any = None,
        jitter: float | None = None,
    ) -> None:
        amounts = {
            "weeks": coerce_number(weeks, OWNER, "weeks", maximum=500_000),
            "days": coerce_number(days, OWNER, "days", maximum=3_650_000),
            "hours": coerce_number(hours, OWNER, "hours", maximum=87_600_000),
            "minutes": coerce_number(minutes, OWNER, "minutes", maximum=5_256_000_000),
            "seconds": coerce_number(seconds, OWNER, "seconds", maximum=315_360_000_000),
        }
        shown = ", ".join(f"{k}={v}" for k, v in amounts.items() if v) or "all zero"
        first = next((k for k, v in amounts.items() if v), None)  # the argument to correct
        try:
            interval = timedelta(**amounts)
        except OverflowError as exc:
            raise TriggerError(f"Bad interval ({shown}) in {OWNER}: too long", first) from exc
        if interval < ONE_MICROSECOND:
            fail(OWNER, "interval", shown, "must be at least one microsecond long", argument=first)
        if interval > timedelta(days=3_650_000):
            fail(OWNER, "interval", shown, "must be at most 10,000 years long", argument=first)
        tz = implied_timezone(timezone, start_date, end_date, OWNER)
        start = coerce_datetime(start_date, tz, OWNER, "start_date")
        end = coerce_datetime(end_date, tz, OWNER, "end_date")
        check_window(start, end, end_date, OWNER)
        self._set(
            timezone=tz,
            start_date=start,
            end_date=end,
            jitter=coerce_jitter(jitter, OWNER),
            interval=interval,
            _amounts=amounts,
            _step_us=interval // ONE_MICROSECOND,
            _start_utc=None if start is None else start.astimezone(UTC),
            _end_utc=None if end is None else end.astimezone(UTC),
        )

    def with_start_date(self, start: datetime) -> IntervalTrigger:
        """Return a copy whose phase is pinned: it fires at `start`, `start + interval`..."""
        check_aware(start, OWNER, "start")
        return IntervalTrigger(
            **self._amounts,
            start_date=start,
            end_date=self.end_date,
            timezone=self.timezone,
            jitter=self.jitter,
        )

    def pinned(self, now: datetime) -> IntervalTrigger:
        if self.start_date is not None:
            return self
        try:
            start = now.astimezone(UTC) + self.interval
        except OverflowError:
            return self
        if self._end_utc is not None and start > self._end_utc:
            return self  # nothing left to pin: every fire would be after end_date
        return self.with_start_date(start)

    def _finish(self, fire_utc: datetime) -> datetime | None:
        if self._end_utc is not None and fire_utc > self._end_utc:
            return None
        return fire_utc.astimezone(self.timezone)

    def _at_or_after(self, instant: datetime) -> datetime | None:
        try:
            utc = instant.astimezone(UTC)
            start = self._start_utc
            if start is None:
                return self._finish(utc + self.interval)
            if utc <= start:
                return self._finish(start)
            elapsed = (utc - start) // ONE_MICROSECOND
            steps = -(-elapsed // self._step_us)
            return self._finish(start + timedelta(microseconds=steps * self._step_us))
        except OverflowError:
            return None

    def _after(self, previous: datetime) -> datetime | None:
        if self._start_utc is None:
            try:
                return self._finish(previous.astimezone(UTC) + self.interval)
            except OverflowError:
                return None
        return super()._after(previous)

    def to_dict(self) -> dict[str, Any]:
        data = self._base_dict()
        data.update(self._amounts)
        data.update(
            start_date=iso(self.start_date),
            end_date=iso(self.end_date),
            timezone=self.timezone.key,
            jitter=self.jitter,
        )
        return data

    def describe(self) -> str:
        text = interval_phrase(self.interval)
        if self.start_date is not None:
            text += f" from {when(self.start_date)} {self.timezone.key}"
        if self.end_date is not None:
            text += f" until {when(self.end_date)} {self.timezone.key}"
        return text

    def _meaning(self) -> object:
        return self._window_meaning(), self._step_us

    @property
    def elapsed_phase(self) -> tuple[datetime, int] | None:
        return None if self._start_utc is None else (self._start_utc, self._step_us)

    def dst_repeat_note(self) -> str:
        return "; this schedule counts elapsed time, so the repeat changes nothing"
