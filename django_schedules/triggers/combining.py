"""AndTrigger and OrTrigger: combine triggers (APScheduler 3.11's signatures)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from django_schedules.exceptions import TriggerError
from django_schedules.triggers._common import ONE_MICROSECOND, check_aware, coerce_jitter, fail
from django_schedules.triggers.base import BaseTrigger, next_instant, read_dict, short_repr
from django_schedules.triggers.describe import describe_combination

MAX_ROUNDS = 10_000


class BaseCombiningTrigger(BaseTrigger):
    """Holds the child triggers; the result is in the first child's zone.

    The children's own jitter is ignored: the combination's `jitter` applies to its fire times.
    """

    zoned: ClassVar[bool] = False
    composite: ClassVar[bool] = True
    dict_fields: ClassVar[frozenset[str]] = frozenset({"triggers", "jitter"})

    triggers: tuple[BaseTrigger, ...]

    def __init__(self, triggers: Sequence[BaseTrigger], jitter: float | None = None) -> None:
        owner = type(self).__name__
        raw: object = triggers  # checked at run time too: callers may be untyped
        if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
            fail(owner, "triggers", triggers, "must be a list of triggers")
        if not triggers:
            fail(owner, "triggers", triggers, "must hold at least one trigger")
        for child in triggers:
            if not isinstance(child, BaseTrigger):
                fail(owner, "triggers", child, "each item must be a trigger")
        children = tuple(triggers)
        self._set(
            triggers=children,
            timezone=children[0].timezone,
            jitter=coerce_jitter(jitter, owner),
        )
        self._set(start_date=self._window_start(), end_date=self._window_end())

    def _window_start(self) -> datetime | None:
        raise NotImplementedError

    def _window_end(self) -> datetime | None:
        raise NotImplementedError

    def _starts(self) -> list[datetime | None]:
        return [child.start_date for child in self.triggers]

    def _ends(self) -> list[datetime | None]:
        return [child.end_date for child in self.triggers]

    def with_start_date(self, start: datetime) -> BaseCombiningTrigger:
        """Return a copy whose interval and calendar-interval children are pinned at `start`."""
        check_aware(start, type(self).__name__, "start")
        return type(self)([_pin_at(child, start) for child in self.triggers], jitter=self.jitter)

    def pinned(self, now: datetime) -> BaseCombiningTrigger:
        children = [child.pinned(now) for child in self.triggers]
        if all(new is old for new, old in zip(children, self.triggers, strict=True)):
            return self
        return type(self)(children, jitter=self.jitter)

    def _after(self, previous: datetime) -> datetime | None:
        instant = next_instant(previous)
        return None if instant is None else self.pinned(previous)._at_or_after(instant)

    @classmethod
    def _from_fields(cls, args: dict[str, Any], depth: int) -> BaseCombiningTrigger:
        children = args.get("triggers")
        if not isinstance(children, list):
            raise TriggerError(
                f"Bad triggers {short_repr(children)} in trigger dict of kind {cls.kind!r}: "
                "must be a list"
            )
        return cls([read_dict(child, depth + 1) for child in children], jitter=args.get("jitter"))

    @property
    def phase_known(self) -> bool:
        return False  # a child's may not be

    def dst_repeat_note(self) -> str:
        return ""

    def to_dict(self) -> dict[str, Any]:
        data = self._base_dict()
        data.update(triggers=[child.to_dict() for child in self.triggers], jitter=self.jitter)
        return data


def _pin_at(child: BaseTrigger, start: datetime) -> BaseTrigger:
    return child if child.start_date is not None else child.with_start_date(start)


class AndTrigger(BaseCombiningTrigger):
    """Fire at the instants on which every child trigger fires.

    Refused at construction when the children provably never agree (disjoint date windows,
    different run dates, interval phases that never meet, cron fields with no common value).
    Otherwise each look-up takes at most 10,000 rounds of leapfrogging, then raises
    TriggerError naming the instant it got to.
    """

    kind: ClassVar[str] = "and"

    def __init__(self, triggers: Sequence[BaseTrigger], jitter: float | None = None) -> None:
        super().__init__(triggers, jitter)
        reason = _never_agree(self.triggers)
        if reason:
            raise TriggerError(
                f"Bad triggers [{', '.join(map(repr, self.triggers))}] in AndTrigger: "
                f"they can never fire at the same instant ({reason})"
            )

    def _window_start(self) -> datetime | None:
        starts = [s for s in self._starts() if s is not None]
        return max(starts, key=_key) if starts else None

    def _window_end(self) -> datetime | None:
        ends = [e for e in self._ends() if e is not None]
        return min(ends, key=_key) if ends else None

    def _at_or_after(self, instant: datetime) -> datetime | None:
        children = self.pinned(instant).triggers
        target = instant.astimezone(UTC)
        for _ in range(MAX_ROUNDS):
            agreed = True
            for child in children:
                fire = child._at_or_after(target)
                if fire is None:
                    return None
                fire_utc = fire.astimezone(UTC)
                if fire_utc != target:
                    target = fire_utc
                    agreed = False
            if agreed:
                return target.astimezone(self.timezone)
        raise TriggerError(
            f"Bad triggers in AndTrigger: no instant all {len(children)} triggers agree on "
            f"within {MAX_ROUNDS} rounds after {instant.isoformat()} (got to "
            f"{target.isoformat()})"
        )

    def describe(self) -> str:
        return describe_combination(self, "When all of these agree")


class OrTrigger(BaseCombiningTrigger):
    """Fire whenever any child trigger fires (an instant two children share fires once)."""

    kind: ClassVar[str] = "or"

    def _window_start(self) -> datetime | None:
        starts = self._starts()
        if any(s is None for s in starts):
            return None
        return min((s for s in starts if s is not None), key=_key)

    def _window_end(self) -> datetime | None:
        ends = self._ends()
        if any(e is None for e in ends):
            return None
        return max((e for e in ends if e is not None), key=_key)

    def _at_or_after(self, instant: datetime) -> datetime | None:
        best: datetime | None = None
        for child in self.pinned(instant).triggers:
            fire = child._at_or_after(instant)
            if fire is not None:
                fire_utc = fire.astimezone(UTC)
                if best is None or fire_utc < best:
                    best = fire_utc
        return None if best is None else best.astimezone(self.timezone)

    def describe(self) -> str:
        return describe_combination(self, "Whenever any of these fires")


def _key(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _never_agree(children: tuple[BaseTrigger, ...]) -> str | None:
    """Return why the children can never fire together, when that can be shown, else None."""
    starts = [c.start_date.astimezone(UTC) for c in children if c.start_date is not None]
    ends = [c.end_date.astimezone(UTC) for c in children if c.end_date is not None]
    if starts and ends and max(starts) > min(ends):
        return "their start and end dates leave no common time"
    dates = [c.only_fire_time for c in children if c.only_fire_time is not None]
    if dates:
        when = dates[0]
        for child in children:
            if not child.phase_known:
                continue  # its phase may depend on `now`
            fire = child._at_or_after(when)
            if fire is None or fire.astimezone(UTC) != when.astimezone(UTC):
                return f"{child!r} does not fire at {when.isoformat()}"
    phases = [c.elapsed_phase for c in children if c.elapsed_phase is not None]
    for i, (start_one, step_one) in enumerate(phases):
        for start_two, step_two in phases[i + 1 :]:
            period = math.gcd(step_one, step_two)
            shift = (start_two - start_one) // ONE_MICROSECOND
            if shift % period:
                return "their interval phases never meet"
    walls = [(c, values) for c in children if (values := c.wall_values()) is not None]
    for i, (first, (a, first_fixed)) in enumerate(walls):
        for second, (b, second_fixed) in walls[i + 1 :]:
            if first.timezone.key != second.timezone.key:
                continue
            if (first_fixed or second_fixed) and first.timezone.key != "UTC":
                continue  # a gap moves fixed times, so different wall times can meet
            for name in ("year", "month", "hour", "minute", "second"):
                if not set(a[name]) & set(b[name]):
                    return f"their {name} fields have no value in common"
    return None
