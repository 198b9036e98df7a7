"""Backfill: run a schedule's past occurrences in a range (docs/backfill.md).

``backfill_job(job_id, start, end)`` walks the schedule's trigger over ``start <= fire time <
end`` and records each occurrence as one Execution of kind ``backfill``: a new pending one
when the occurrence has no record, the next attempt of its Execution when it was recorded
``missed`` or ``skipped``; one recorded otherwise (it ran, or is running or waiting to) is
left alone. The unique ``(schedule, fire_time)`` constraint keeps one Execution per
occurrence, so a second backfill of the same range adds nothing. The leader picks the rows
up as it picks up a manual run (epoch NULL, ``store.adopt_pending``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from django_schedules import store
from django_schedules.changes import announce
from django_schedules.changes import now as _now
from django_schedules.exceptions import InvalidSchedule
from django_schedules.registry import lookup

# The most occurrences one backfill runs unless told otherwise (``limit=``).
DEFAULT_LIMIT: Final = 1000
# The highest limit one may give, and the most occurrences counted for a refusal's message:
# walking a trigger is pure work, bounded here (a range beyond it is "more than" this).
MAX_LIMIT: Final = 100_000

# What a backfill does with one occurrence.
NEW: Final = "new"  # no record yet: a new pending Execution
RERUN: Final = "re-run"  # recorded missed or skipped: run again as its next attempt
LEFT_ALONE: Final = "left alone"  # recorded otherwise: it ran, runs or waits to run


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of the range: its fire time (UTC), what the backfill does with it, and
    the status it was recorded with before ("" when it had no record)."""

    fire_time: datetime
    action: str
    status: str = ""


@dataclass(frozen=True)
class BackfillResult:
    """What a backfill did (or, with ``dry_run``, would do): its occurrences, oldest first,
    and how many it recorded anew, ran again and left alone."""

    job_id: str
    start: datetime
    end: datetime
    occurrences: tuple[Occurrence, ...]
    created: int
    retried: int
    left_alone: int
    dry_run: bool = False


def backfill_job(
    job_id: str,
    start: datetime,
    end: datetime,
    *,
    limit: int | None = None,
    dry_run: bool = False,
) -> BackfillResult:
    """Run the schedule's occurrences with ``start <= fire time < end``, each as one
    Execution of kind ``backfill`` (see the module's docstring), in one transaction; with
    `dry_run`, write nothing and say what would happen.

    `start` and `end` are aware datetimes, `start` before `end`, `end` not after now; a
    range of more than `limit` occurrences (default ``DEFAULT_LIMIT``, at most
    ``MAX_LIMIT``) is refused with its count. Works on paused schedules, like run_job_now.
    Raises InvalidSchedule naming the field and the value, ScheduleNotFound, or
    JobNotRegistered when the callable is no longer registered; nothing is written then.
    """
    now = _now()
    if not isinstance(job_id, str):
        raise InvalidSchedule(f"job_id {job_id!r} must be a string", "job_id", value=job_id)
    if not isinstance(dry_run, bool):
        raise InvalidSchedule(
            f"dry_run {dry_run!r} must be True or False", "dry_run", value=dry_run
        )
    start, end = _utc(start, "start"), _utc(end, "end")
    if start >= end:
        raise InvalidSchedule(
            f"end {end.isoformat()} is not after start {start.isoformat()}", "end", value=end
        )
    if end > now:
        raise InvalidSchedule(
            f"end {end.isoformat()} is in the future (now is {now.isoformat()}): a backfill runs "
            "past occurrences only, the scheduler runs the others",
            "end",
            value=end,
        )
    limit = _limit(limit)
    schedule = store.get_schedule(job_id)
    lookup(schedule.func)  # refuse a callable that disappeared after a deploy
    fire_times = occurrences(schedule.trigger, start, end, limit)
    if len(fire_times) > limit:
        count = (
            f"more than {MAX_LIMIT:,}" if len(fire_times) > MAX_LIMIT else f"{len(fire_times):,}"
        )
        raise InvalidSchedule(
            f"a backfill of {job_id!r} from {start.isoformat()} to {end.isoformat()} holds "
            f"{count} occurrences, more than its limit of {limit:,}: give a shorter range or "
            "a higher limit",
            "limit",
            value=limit,
        )
    if dry_run:
        recorded = store.recorded_statuses(schedule.pk, start, end, store.database_alias())
        plan = _plan(fire_times, recorded)
        return BackfillResult(
            job_id,
            start,
            end,
            plan,
            created=sum(o.action == NEW for o in plan),
            retried=sum(o.action == RERUN for o in plan),
            left_alone=sum(o.action == LEFT_ALONE for o in plan),
            dry_run=True,
        )
    written = store.write_backfill(job_id, fire_times, start, end)
    if written.created or written.retried:
        announce(schedule, "backfill")
    return BackfillResult(
        job_id,
        start,
        end,
        _plan(fire_times, written.recorded),
        created=written.created,
        retried=written.retried,
        left_alone=written.left_alone,
    )


def occurrences(trigger_dict: object, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """The trigger's fire times (UTC) with ``start <= fire time < end``, oldest first: at most
    ``max(limit, MAX_LIMIT) + 1``, so a caller sees a range over its limit without walking
    an unbounded one. The trigger's own start_date and end_date hold."""
    from django_schedules.triggers import trigger_from_dict

    try:
        trigger = trigger_from_dict(trigger_dict)
    except Exception as exc:
        raise InvalidSchedule(
            f"its stored trigger cannot be read: {type(exc).__name__}: {exc}", "trigger"
        ) from exc
    cap = max(limit, MAX_LIMIT) + 1
    found: list[datetime] = []
    try:
        fire = trigger.get_next_fire_time(None, start)
        while fire is not None and len(found) < cap:
            fire = fire.astimezone(UTC)
            if fire >= end:
                break
            if found and fire <= found[-1]:
                raise ValueError(f"it did not move past {found[-1].isoformat()}")
            found.append(fire)
            fire = trigger.get_next_fire_time(fire, start)
    except Exception as exc:  # a stored trigger is data: its failure is refused, not raised
        raise InvalidSchedule(
            f"its trigger failed: {type(exc).__name__}: {exc}", "trigger"
        ) from exc
    return found


def _plan(fire_times: list[datetime], recorded: dict[datetime, str]) -> tuple[Occurrence, ...]:
    plan = []
    for fire in fire_times:
        status = recorded.get(fire)
        if status is None:
            plan.append(Occurrence(fire, NEW))
        elif status in store.RERUN_STATUSES:
            plan.append(Occurrence(fire, RERUN, status))
        else:
            plan.append(Occurrence(fire, LEFT_ALONE, status))
    return tuple(plan)


def _utc(value: object, field: str) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidSchedule(f"{field} {value!r} must be an aware datetime", field, value=value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidSchedule(
            f"{field} {value.isoformat()} must be an aware datetime, not a naive one",
            field,
            value=value,
        )
    return value.astimezone(UTC)


def _limit(value: object) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise InvalidSchedule(
            f"limit {value!r} must be a whole number of occurrences from 1 to {MAX_LIMIT:,}",
            "limit",
            value=value,
        )
    return value
