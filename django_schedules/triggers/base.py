"""The trigger interface, value semantics and deterministic jitter shared by every trigger;
the registry of trigger kinds (`TRIGGER_KINDS`, `trigger_kinds()`, `trigger_class()`) and the
reader of their versioned dict form (`trigger_from_dict()`).

A new kind is one module under `triggers/` and its tests under `tests/triggers/`. The module
holds one `BaseTrigger` subclass and `triggers/__init__.py` imports it (the import registers
it; the import order there is the order of `trigger_kinds()`). The class provides:

- `kind`, a class attribute: its name in the dict form; declaring it registers the class;
- `zoned`, a class attribute (default True): whether it takes a `timezone` argument;
- `composite`, a class attribute (default False): whether it is built from other triggers;
- `dict_fields`, a class attribute: the keys its `to_dict()` writes besides "version" and
  "kind" (an unknown key is refused by name);
- `to_dict()`, starting from `_base_dict()`, and `_from_fields(args, depth)` unless its dict
  fields are exactly its keyword arguments (the default calls `cls(**args)`);
- `_at_or_after()` and `describe()` (built from the phrases in `describe.py`);
- for the preview's daylight-saving notes, `dst_repeat_note()` when it is not a fixed-time
  trigger, and `dst_gap_wall()` when it fires at chosen wall-clock times;
- for AndTrigger's never-agree check, whichever of `phase_known`, `only_fire_time`,
  `elapsed_phase` and `wall_values()` it can answer (the defaults claim nothing).
"""

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
    zoned: ClassVar[bool] = True
    composite: ClassVar[bool] = False  # built from other triggers (and, or)
    dict_fields: ClassVar[frozenset[str]]
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

    # -- facts AndTrigger reads to refuse children that can never agree --------------------

    @property
    def phase_known(self) -> bool:
        """Whether the fire times are fixed without a `now` (no phase is pinned from it)."""
        return self.start_date is not None

    @property
    def only_fire_time(self) -> datetime | None:
        """The one fire time of a trigger that fires once, else None."""
        return None

    @property
    def elapsed_phase(self) -> tuple[datetime, int] | None:
        """(first fire time in UTC, step in microseconds) of a trigger counting elapsed time
        from a known start, else None."""
        return None

    def wall_values(self) -> tuple[dict[str, tuple[int, ...]], bool] | None:
        """(allowed year, month, hour, minute and second values, whether it is fixed-time) of a
        trigger matching wall-clock fields, else None."""
        return None

    # -- daylight saving notes for the preview (describe.describe_dst) ----------------------

    def dst_repeat_note(self) -> str:
        """Return what this trigger does in a repeated hour, as "; ..." after describe_dst's
        sentence ('' to add nothing)."""
        return "; a fixed-time schedule fires only the first time"

    def dst_gap_wall(self, fire_utc: datetime, start: datetime, end: datetime) -> str:
        """Return the wall time inside the spring-forward gap [start, end) (naive, this
        trigger's zone) that was moved to the fire time `fire_utc`, or '' if none was."""
        return ""

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

    def same_schedule(self, other: BaseTrigger) -> bool:
        """Whether `other` fires at the same instants, in the same zone and window, with the
        same jitter bound, however its arguments are spelled (`day_of_week="mon-fri"` and
        `"0-4"`, the crontab `30 9 * * 1-5` and its keyword fields, `weeks=1` and `days=7`).

        `==` compares the arguments themselves, as the jitter's hash does.
        """
        return type(other) is type(self) and self._meaning() == other._meaning()

    def _meaning(self) -> object:
        """What `same_schedule` compares; by default the arguments as written."""
        return self._canonical

    def _window_meaning(self) -> tuple[object, ...]:
        start, end = self.start_date, self.end_date
        return (
            self.timezone.key,
            None if start is None else start.astimezone(UTC),
            None if end is None else end.astimezone(UTC),
            self.jitter,
        )

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
        return (trigger_from_dict, (self.to_dict(),))

    # -- the registry and the dict form ----------------------------------------------------

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is not None:
            if kind in TRIGGER_KINDS:
                raise TypeError(f"Trigger kind {kind!r} is declared twice")
            TRIGGER_KINDS[kind] = cls

    @classmethod
    def from_dict(cls, data: Any) -> BaseTrigger:
        """Rebuild a trigger of this class from its `to_dict()` output (see trigger_from_dict)."""
        trigger = trigger_from_dict(data)
        if not isinstance(trigger, cls):
            raise TriggerError(
                f"Bad kind {short_repr(trigger.kind)} in trigger dict: expected kind {cls.kind!r}"
            )
        return trigger

    @classmethod
    def _from_fields(cls, args: dict[str, Any], depth: int) -> BaseTrigger:
        """Build from the dict form's fields, already checked against `dict_fields`."""
        return cls(**args)

    def _base_dict(self) -> dict[str, Any]:
        return {"version": FORMAT_VERSION, "kind": self.kind}


TRIGGER_KINDS: dict[str, type[BaseTrigger]] = {}
"""Every trigger class by its kind, in the order the package imports them."""

_MAX_DEPTH = 16


def trigger_kinds() -> tuple[str, ...]:
    return tuple(TRIGGER_KINDS)


def trigger_class(kind: object) -> type[BaseTrigger]:
    """Return the trigger class of `kind`; raise TriggerError naming an unknown kind."""
    cls = TRIGGER_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(TRIGGER_KINDS)
        raise TriggerError(f"Bad kind {short_repr(kind)} in trigger dict: known kinds are {known}")
    return cls


def trigger_from_dict(data: Any) -> BaseTrigger:
    """Rebuild a trigger from `to_dict()` output.

    Raise TriggerError naming the problem for anything else: not a dict, an unknown
    `"version"` or `"kind"`, an unknown field, or a bad value (the trigger's own check).
    """
    return read_dict(data, 0)


def read_dict(data: Any, depth: int) -> BaseTrigger:
    """Rebuild a trigger nested `depth` levels deep in a combination's dict."""
    if not isinstance(data, dict):
        raise TriggerError(f"Bad trigger {short_repr(data)}: a trigger dict must be a dict")
    if depth > _MAX_DEPTH:
        raise TriggerError(f"Bad trigger dict: nested deeper than {_MAX_DEPTH} levels")
    version = data.get("version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise TriggerError(
            f"Bad version {short_repr(version)} in trigger dict: this release reads version "
            f"{FORMAT_VERSION}"
        )
    kind = data.get("kind")
    cls = trigger_class(kind)
    known = cls.dict_fields
    unknown = sorted(str(key) for key in data if key not in known | {"version", "kind"})
    if unknown:
        raise TriggerError(
            f"Bad field {', '.join(map(repr, unknown))} in trigger dict of kind {kind!r}: "
            f"known fields are {', '.join(sorted(known))}"
        )
    args = {key: value for key, value in data.items() if key not in ("version", "kind")}
    return cls._from_fields(args, depth)


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def next_instant(previous: datetime) -> datetime | None:
    """Return the microsecond after `previous`, in UTC; None past the last one datetime holds
    (a run date of 9999-12-31 23:59:59.999999 has nothing after it)."""
    try:
        return previous.astimezone(UTC) + ONE_MICROSECOND
    except OverflowError:
        return None
