"""DateTrigger: fire once, at a given instant."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from django_schedules.exceptions import TriggerError
from django_schedules.triggers._common import check_aware, coerce_datetime, coerce_timezone, fail
from django_schedules.triggers.base import BaseTrigger
from django_schedules.triggers.describe import when

OWNER = "DateTrigger"


class DateTrigger(BaseTrigger):
    """Fire once at `run_date` (a datetime, a date or an ISO 8601 string).

    A naive `run_date` is read in `timezone` (UTC when None) by the fixed-time rule: a time in a
    spring-forward gap fires at the first instant after the gap, and a repeated time at its
    first occurrence unless the naive datetime has `fold=1`. `start_date` and `end_date` are
    both `run_date`; there is no jitter.
    """

    kind: ClassVar[str] = "date"
    dict_fields: ClassVar[frozenset[str]] = frozenset({"run_date", "timezone"})

    run_date: datetime
    _utc_run: datetime

    def __init__(self, run_date: datetime | date | str, timezone: Any = None) -> None:
        tz = coerce_timezone(timezone, OWNER)
        if run_date is None:
            fail(OWNER, "run_date", run_date, "is required")
        when = coerce_datetime(run_date, tz, OWNER, "run_date")
        if when is None:
            fail(OWNER, "run_date", run_date, "is required")
        self._set(
            timezone=tz,
            run_date=when,
            start_date=when,
            end_date=when,
            jitter=None,
            _utc_run=when.astimezone(UTC),
        )

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return `run_date` when nothing fired yet, even when it has passed (APScheduler 3's
        rule: what to do with a missed run is the scheduler's misfire policy); then None."""
        check_aware(now, OWNER, "now")
        if previous_fire_time is None:
            return self.run_date
        previous = check_aware(previous_fire_time, OWNER, "previous_fire_time")
        return self.run_date if previous.astimezone(UTC) < self._utc_run else None

    def _at_or_after(self, instant: datetime) -> datetime | None:
        return self.run_date if instant.astimezone(UTC) <= self._utc_run else None

    @classmethod
    def _from_fields(cls, args: dict[str, Any], depth: int) -> DateTrigger:
        if "run_date" not in args:
            raise TriggerError("Bad trigger dict of kind 'date': the field 'run_date' is missing")
        return cls(**args)

    def to_dict(self) -> dict[str, Any]:
        data = self._base_dict()
        data.update(run_date=self.run_date.isoformat(), timezone=self.timezone.key)
        return data

    def describe(self) -> str:
        return f"Once, at {when(self.run_date)} ({self.timezone.key})"

    def _meaning(self) -> object:
        return self.timezone.key, self._utc_run

    @property
    def only_fire_time(self) -> datetime:
        return self.run_date

    def dst_gap_wall(self, fire_utc: datetime, start: datetime, end: datetime) -> str:
        if self._utc_run == fire_utc:
            # Read from a naive time in the gap: that time is gone; say the gap.
            return f"A time between {start:%H:%M} and {end:%H:%M}"
        return ""
