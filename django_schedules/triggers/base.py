"""The trigger interface, value semantics and deterministic jitter shared by every trigger."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django_schedules.exceptions import TriggerError
from django_schedules.triggers._common import ONE_MICROSECOND, ZERO, check_aware

FORMAT_VERSION = 1


class BaseTrigger(ABC):
    """A rule that says when a job fires. Immutable; equal when its arguments are equal.

    Subclasses set `timezone`, `start_date`, `end_date` and `jitter` in `__init__` (through
    `_set`) and implement `_at_or_after`, `to_dict` and `describe`.
    """

    kind: ClassVar[str]
    timezone: ZoneInfo
    start_date: datetime | None
    end_date: datetime | None
    jitter: float | None

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; cannot delete {name!r}")

    # -- the interface -------------------------------------------------------------------

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the fire time after `previous_fire_time`, or the first one not before `now`
        when it is None; return None once the trigger is exhausted.

        Both arguments are aware; the result is aware, in this trigger's zone, and is the
        nominal fire time (add `get_jitter` to it for the start). Pure: the clock and the
        database are never read.
        """
        check_aware(now, type(self).__name__, "now")
        if previous_fire_time is None:
            return self._at_or_after(now)
        check_aware(previous_fire_time, type(self).__name__, "previous_fire_time")
        return self._after(previous_fire_time)

    def fire_times(self, now: datetime, count: int) -> list[datetime]:
        """Return up to `count` nominal fire times, the first not before `now` (a preview)."""
        raw: object = count  # checked at run time too: callers may be untyped
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 100_000:
            raise TriggerError(f"Bad count {count!r} in fire_times: must be an int from 0 to 1e5")
        check_aware(now, type(self).__name__, "now")
        trigger = self.pinned(now)
        result: list[datetime] = []
        fire = trigger._at_or_after(now) if count else None
        while fire is not None:
            result.append(fire)
            if len(result) >= count:
                break
            fire = trigger._after(fire)
        return result

    @abstractmethod
    def _at_or_after(self, instant: datetime) -> datetime | None:
        """Return the first fire time not before `instant` (aware), or None."""

    def _after(self, previous: datetime) -> datetime | None:
        """Return the first fire time strictly after `previous` (aware), or None."""
        instant = next_instant(previous)
        return None if instant is None else self._at_or_after(instant)

    def with_start_date(self, start: datetime) -> BaseTrigger:
        """Return a copy whose phase is pinned at `start` (`add_job` calls this).

        IntervalTrigger fires at `start`, `start + interval`...; CalendarIntervalTrigger counts
        its dates from `start`'s date; AndTrigger and OrTrigger pin such children. Date and
        cron triggers have no phase and return themselves unchanged.
        """
        check_aware(start, type(self).__name__, "start")
        return self

    def pinned(self, now: datetime) -> BaseTrigger:
        """Return this trigger with any phase that depends on `now` fixed from `now`.

        An IntervalTrigger without a start_date fires first at `now + interval`, and a
        CalendarIntervalTrigger without one counts from the date of `now`; the copy keeps that
        start, so later fire times no longer depend on when they are asked for.
        """
        return self

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict with "version" and "kind"; `trigger_from_dict` reads it."""

    @abstractmethod
    def describe(self) -> str:
        """Return the schedule in plain English."""

    # -- jitter --------------------------------------------------------------------------

    def get_jitter(self, fire_time: datetime) -> timedelta:
        """Return the delay to add to the nominal `fire_time` to get the start time.

        Deterministic: a hash of this trigger's `to_dict()` and the fire time, scaled to
        [0, jitter) seconds, so every process computes the same start. Never moves the start
        past `end_date`. Zero when the trigger has no jitter.
        """
        if not self.jitter:
            return ZERO
        check_aware(fire_time, type(self).__name__, "fire_time")
        stamp = fire_time.astimezone(UTC).isoformat()
        digest = hashlib.sha256(f"{self._canonical}|{stamp}".encode()).digest()
        fraction = int.from_bytes(digest[:8], "big") / 2**64
        delay = timedelta(microseconds=int(fraction * self.jitter * 1_000_000))
        end = self.end_date
        if end is not None:
            room = end.astimezone(UTC) - fire_time.astimezone(UTC)
            delay = max(ZERO, min(delay, room))
        return delay

    # -- value semantics ------------------------------------------------------------------

    @property
    def _canonical(self) -> str:
        cached: str | None = self.__dict__.get("_canonical_cache")
        if cached is None:
            cached = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
            object.__setattr__(self, "_canonical_cache", cached)
        return cached

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseTrigger) or type(other) is not type(self):
            return NotImplemented
        return self._canonical == other._canonical

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._canonical))

    def __repr__(self) -> str:
        data = self.to_dict()
        del data["version"], data["kind"]
        args = ", ".join(f"{key}={value!r}" for key, value in data.items() if value is not None)
        return f"{type(self).__name__}({args})"

    def __reduce__(self) -> tuple[Any, ...]:
        from django_schedules.triggers.serialization import trigger_from_dict

        return (trigger_from_dict, (self.to_dict(),))

    def _base_dict(self) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, "kind": self.kind}


def next_instant(previous: datetime) -> datetime | None:
    """Return the microsecond after `previous`, in UTC; None past the last one datetime holds
    (a run date of 9999-12-31 23:59:59.999999 has nothing after it)."""
    try:
        return previous.astimezone(UTC) + ONE_MICROSECOND
    except OverflowError:
        return None
