"""The Python API: APScheduler 3's scheduler methods, backed by the ``Schedule`` table.

A project migrating from APScheduler or django-apscheduler changes an import, not its calls::

    from django_schedules import add_job

    add_job(send_digest, "cron", hour=9, minute=30, day_of_week="mon-fri",
            timezone="Europe/Berlin", id="digest", replace_existing=True)

Every function validates all of its input before it writes anything; a bad value raises an
exception that names the field and the value, and leaves the database as it was. Every change
wakes the scheduler (``store.notify_change``) and sends ``signals.schedule_changed`` on commit.
"""

from __future__ import annotations

import json
import math
import sys
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from enum import Enum
from typing import IO, TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone as dj_timezone

from django_schedules import store
from django_schedules.conf import conf
from django_schedules.exceptions import InvalidSchedule, TriggerError
from django_schedules.models import (
    Execution,
    MisfirePolicy,
    Schedule,
    ScheduleSource,
)
from django_schedules.registry import RegisteredJob, lookup
from django_schedules.signals import schedule_changed

if TYPE_CHECKING:
    from django_schedules.triggers import BaseTrigger

__all__ = [
    "add_job",
    "get_job",
    "get_jobs",
    "modify_job",
    "pause_job",
    "print_jobs",
    "remove_job",
    "reschedule_job",
    "resume_job",
    "run_job_now",
]


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "<unset>"


UNSET: Final = _Unset.UNSET

TRIGGER_NAMES = ("date", "interval", "cron", "calendarinterval", "and", "or")
# Triggers whose constructor takes ``timezone=``: the project's TIME_ZONE fills it in.
_ZONED = ("date", "interval", "cron", "calendarinterval")
MAX_JOB_ID = Schedule._meta.get_field("job_id").max_length or 200
MAX_NAME = Schedule._meta.get_field("name").max_length or 200

# What modify_job(**changes) accepts, besides APScheduler's ``jobstore``.
MODIFIABLE = frozenset(
    {
        "func",
        "args",
        "kwargs",
        "name",
        "trigger",
        "misfire_grace_time",
        "coalesce",
        "misfire_policy",
        "max_instances",
        "next_run_time",
        "executor",
        "timeout",
        "max_retries",
        "retry_delay",
        "rerun_lost",
    }
)


# --- validation (pure: reads settings and the registry, never the database) ---


def _now() -> datetime:
    return dj_timezone.now().astimezone(UTC)


def _project_zone() -> str:
    return conf.TIME_ZONE


def build_trigger(
    trigger: BaseTrigger | str | None,
    trigger_args: Mapping[str, Any],
    now: datetime,
) -> BaseTrigger:
    """Build a trigger from a name and its arguments, or check a trigger object.

    A trigger name without ``timezone=`` gets the project's ``TIME_ZONE``. An interval
    or calendar-interval trigger without a start date has its phase pinned from ``now``.
    """
    from django_schedules import triggers

    classes: dict[str, type[BaseTrigger]] = {
        "date": triggers.DateTrigger,
        "interval": triggers.IntervalTrigger,
        "cron": triggers.CronTrigger,
        "calendarinterval": triggers.CalendarIntervalTrigger,
        "and": triggers.AndTrigger,
        "or": triggers.OrTrigger,
    }
    if trigger is None:
        trigger = "date"  # as APScheduler: no trigger means "once, now"
    if isinstance(trigger, str):
        cls = classes.get(trigger)
        if cls is None:
            raise TriggerError(
                f"trigger must be one of {', '.join(TRIGGER_NAMES)} or a trigger object, "
                f"got {trigger!r}"
            )
        args = dict(trigger_args)
        if trigger in _ZONED and args.get("timezone") is None:
            args["timezone"] = _project_zone()
        if trigger == "date" and args.get("run_date") is None:
            args["run_date"] = now
        try:
            built = cls(**args)
        except TriggerError:
            raise
        except TypeError as exc:  # an argument the trigger does not take
            raise TriggerError(f"trigger {trigger!r}: {exc}") from exc
    elif isinstance(trigger, triggers.BaseTrigger):
        if trigger_args:
            raise TriggerError(
                f"trigger arguments {sorted(trigger_args)} are given with a trigger object; "
                "pass them to the trigger's constructor, or pass the trigger by name"
            )
        built = trigger
    else:
        raise TriggerError(
            f"trigger must be one of {', '.join(TRIGGER_NAMES)} or a trigger object, "
            f"got {trigger!r}"
        )
    # An interval trigger without a start date fires first one interval after now, as in
    # APScheduler; pinning stores that phase, so it fires on the same beat after a restart.
    return built.pinned(now)


def trigger_json(trigger: BaseTrigger) -> dict[str, Any]:
    """``trigger.to_dict()`` as the database gives it back (JSON types only)."""
    data: dict[str, Any] = json.loads(json.dumps(trigger.to_dict()))
    return data


def first_run(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The trigger's first fire time not before ``now``, in UTC; None when exhausted."""
    fire = trigger.get_next_fire_time(None, now)
    return None if fire is None else fire.astimezone(UTC)


# JSON that every supported database stores and gives back unchanged: MariaDB's JSON_VALID
# check refuses nesting deeper than 32, and parsers beyond Python's read integers as 64-bit.
MAX_JSON_DEPTH = 30
MAX_JSON_INT = 2**63 - 1


def storable_text(value: str) -> str | None:
    """Return why the databases cannot store the string ``value``, or None when they can.

    PostgreSQL refuses NUL in text and in JSON; a lone surrogate (such as "\\ud800", which
    JSON can spell) has no UTF-8 encoding, so no database driver can send it.
    """
    if "\x00" in value:
        return "it contains a NUL character"
    if any("\ud800" <= char <= "\udfff" for char in value):
        return "it contains a lone surrogate, which has no UTF-8 encoding"
    return None


def json_safe(value: Any, path: str, depth: int = 0) -> Any:
    """Return ``value`` as plain JSON data (tuples become lists), or raise InvalidSchedule
    naming where in ``path`` a value is not JSON-safe."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidSchedule(f"{path} is nested deeper than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        problem = storable_text(value)
        if problem:
            raise InvalidSchedule(f"{path} = {_short(value)} cannot be stored: {problem}")
        return value
    if isinstance(value, int):
        if abs(value) > MAX_JSON_INT:
            raise InvalidSchedule(
                f"{path} = {_short(value)} is not JSON-safe: integers must fit in 64 bits"
            )
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidSchedule(f"{path} = {value!r} is not JSON-safe: JSON has no NaN or inf")
        return value
    if isinstance(value, list | tuple):
        return [json_safe(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str) or storable_text(key):
                raise InvalidSchedule(
                    f"{path} has the key {_short(key)}, which is not JSON-safe: keys must be "
                    "strings that the database can store"
                )
            result[key] = json_safe(item, f"{path}[{key!r}]", depth + 1)
        return result
    raise InvalidSchedule(
        f"{path} = {_short(value)} is not JSON-safe: a {type(value).__name__} cannot be stored. "
        "Arguments are stored as JSON (never pickled): pass str, int, float, bool, None, "
        "and lists and dicts of them (a datetime as an ISO 8601 string, say)"
    )


def _arguments(job: RegisteredJob, args: Any, kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    if args is None:
        args = []
    if kwargs is None:
        kwargs = {}
    if not isinstance(args, list | tuple):
        raise InvalidSchedule(f"args must be a list or a tuple, got {args!r}")
    if not isinstance(kwargs, dict):
        raise InvalidSchedule(f"kwargs must be a dict, got {kwargs!r}")
    safe_args = json_safe(args, "args")
    safe_kwargs = json_safe(kwargs, "kwargs")
    try:
        job.bind(safe_args, safe_kwargs)
    except TypeError as exc:
        raise InvalidSchedule(
            f"args={safe_args!r}, kwargs={safe_kwargs!r} do not fit the callable: {exc}"
        ) from exc
    # What is stored must read back equal: JSON round trip (e.g. 1e400 is inf, caught above).
    assert json.loads(json.dumps(safe_args)) == safe_args  # noqa: S101 - our own invariant
    return safe_args, safe_kwargs


# The largest value every database's PositiveIntegerField holds (PostgreSQL's integer).
MAX_WHOLE = 2_147_483_647
# Timeouts and retry delays end up in waits on the monotonic clock, which overflow past about
# 9e9 seconds; a year is longer than any run or retry delay can sensibly be.
MAX_SECONDS = 366 * 24 * 3600


def _whole(field: str, value: Any, *, minimum: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_WHOLE:
        rule = f"a whole number from {minimum} to {MAX_WHOLE}" + (", or None" if allow_none else "")
        raise InvalidSchedule(f"{field} must be {rule}, got {_short(value)}")
    return value


def _seconds(field: str, value: Any, *, positive: bool, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
        and value <= MAX_SECONDS
    )
    if not ok:
        rule = "greater than zero" if positive else "zero or more"
        rule += ", or None" if allow_none else ""
        raise InvalidSchedule(
            f"{field} must be a finite number of seconds up to {MAX_SECONDS} (a year), {rule}, "
            f"got {_short(value)}"
        )
    return float(value)


def _count(field: str, value: Any, *, minimum: int) -> int:
    result = _whole(field, value, minimum=minimum)
    assert result is not None  # noqa: S101 - None is refused without allow_none
    return result


def _duration(field: str, value: Any) -> float:
    result = _seconds(field, value, positive=False)
    assert result is not None  # noqa: S101 - None is refused without allow_none
    return result


def _text(field: str, value: Any, max_length: int, *, allow_empty: bool) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        kind = "a string" if allow_empty else "a non-empty string"
        raise InvalidSchedule(f"{field} must be {kind}, got {_short(value)}")
    if len(value) > max_length:
        raise InvalidSchedule(
            f"{field} must be at most {max_length} characters, got {len(value)}: {_short(value)}"
        )
    problem = storable_text(value)
    if problem:
        raise InvalidSchedule(f"{field} = {value!r} cannot be stored: {problem}")
    return value


def _short(value: Any) -> str:
    """``repr(value)``, cut to a length an error message can carry."""
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _executor(value: Any) -> str:
    executors: object = conf.SCHEDULES_EXECUTORS
    if not isinstance(value, str) or not isinstance(executors, dict) or value not in executors:
        known = ", ".join(repr(name) for name in executors) if isinstance(executors, dict) else ""
        raise InvalidSchedule(
            f"executor must name a key of SCHEDULES_EXECUTORS ({known}), got {value!r}"
        )
    return value


def _misfire_policy(coalesce: Any, policy: Any) -> MisfirePolicy | None:
    """APScheduler's ``coalesce`` and our ``misfire_policy``; None when neither is given."""
    from_coalesce: MisfirePolicy | None = None
    if coalesce is not UNSET:
        if not isinstance(coalesce, bool):
            raise InvalidSchedule(f"coalesce must be True or False, got {coalesce!r}")
        from_coalesce = MisfirePolicy.RUN_ONCE if coalesce else MisfirePolicy.RUN_ALL
    chosen: MisfirePolicy | None = None
    if policy is not UNSET and policy is not None:
        if policy not in MisfirePolicy.values:
            raise InvalidSchedule(
                f"misfire_policy must be one of {', '.join(MisfirePolicy.values)}, got {policy!r}"
            )
        chosen = MisfirePolicy(policy)
    if from_coalesce is not None and chosen is not None and from_coalesce != chosen:
        raise InvalidSchedule(
            f"coalesce={coalesce!r} means misfire_policy={from_coalesce.value!r}, which "
            f"contradicts misfire_policy={chosen.value!r}; give one of them"
        )
    return chosen or from_coalesce


def _next_run_time(value: Any, zone: tzinfo) -> datetime | None:
    """APScheduler's ``next_run_time``: an aware or naive datetime (naive: in the trigger's
    zone) or an ISO 8601 string; None means paused."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidSchedule(
                f"next_run_time must be a datetime, an ISO 8601 string or None, got {value!r}"
            ) from exc
    if not isinstance(value, datetime):
        raise InvalidSchedule(
            f"next_run_time must be a datetime, an ISO 8601 string or None, got {value!r}"
        )
    moment: datetime = value
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _trigger_zone(trigger: BaseTrigger) -> tzinfo:
    zone = getattr(trigger, "timezone", None)
    return zone if isinstance(zone, tzinfo) else ZoneInfo(_project_zone())


def build_schedule(
    func: Any,
    trigger: BaseTrigger | str | None = None,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    id: str | None = None,
    name: str | None = None,
    misfire_grace_time: Any = UNSET,
    coalesce: Any = UNSET,
    max_instances: Any = UNSET,
    next_run_time: Any = UNSET,
    executor: Any = "default",
    *,
    misfire_policy: Any = UNSET,
    timeout: Any = None,
    max_retries: Any = 0,
    retry_delay: Any = 0,
    rerun_lost: Any = False,
    enabled: Any = True,
    source: ScheduleSource = ScheduleSource.CODE,
    now: datetime | None = None,
    **trigger_args: Any,
) -> Schedule:
    """Validate everything ``add_job`` takes and return the unsaved ``Schedule``."""
    now = now or _now()
    job = lookup(func)
    built = build_trigger(trigger, trigger_args, now)
    safe_args, safe_kwargs = _arguments(job, args, kwargs)
    job_id = uuid.uuid4().hex if id is None else _text("id", id, MAX_JOB_ID, allow_empty=False)
    if name is None:
        name = str(getattr(job.func, "__qualname__", job.name))[:MAX_NAME]
    schedule = Schedule(
        job_id=job_id,
        name=_text("name", name, MAX_NAME, allow_empty=True),
        func=job.name,
        args=safe_args,
        kwargs=safe_kwargs,
        trigger=trigger_json(built),
        trigger_kind=trigger_json(built)["kind"],
        executor=_executor(executor),
        misfire_grace_time=(
            60
            if misfire_grace_time is UNSET
            else _whole("misfire_grace_time", misfire_grace_time, minimum=1, allow_none=True)
        ),
        misfire_policy=_misfire_policy(coalesce, misfire_policy) or MisfirePolicy.RUN_ONCE,
        max_instances=(
            1 if max_instances is UNSET else _count("max_instances", max_instances, minimum=1)
        ),
        timeout=_seconds("timeout", timeout, positive=True, allow_none=True),
        max_retries=_count("max_retries", max_retries, minimum=0),
        retry_delay=_duration("retry_delay", retry_delay),
        rerun_lost=_boolean("rerun_lost", rerun_lost),
        source=source,
    )
    if next_run_time is UNSET:
        schedule.next_run_at = first_run(built, now)
    else:
        run_at = _next_run_time(next_run_time, _trigger_zone(built))
        schedule.next_run_at = run_at if run_at is not None else first_run(built, now)
        schedule.enabled = run_at is not None  # APScheduler: next_run_time=None adds it paused
    if not _boolean("enabled", enabled):
        schedule.enabled = False
    return schedule


def _boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidSchedule(f"{field} must be True or False, got {value!r}")
    return value


def _source(value: Any) -> ScheduleSource:
    if value not in ScheduleSource.values:
        raise InvalidSchedule(
            f"source must be one of {', '.join(ScheduleSource.values)}, got {value!r}"
        )
    return ScheduleSource(value)


def _announce(schedule: Schedule, action: str) -> None:
    """Send schedule_changed once the change commits (at once outside a transaction)."""
    transaction.on_commit(
        lambda: schedule_changed.send(
            sender=Schedule, schedule=schedule, job_id=schedule.job_id, action=action
        ),
        using=store.database_alias(),
    )


# --- the API ---


def add_job(
    func: Any,
    trigger: BaseTrigger | str | None = None,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    id: str | None = None,
    name: str | None = None,
    misfire_grace_time: int | _Unset | None = UNSET,
    coalesce: bool | _Unset = UNSET,
    max_instances: int | _Unset = UNSET,
    next_run_time: datetime | str | _Unset | None = UNSET,
    jobstore: str = "default",
    executor: str = "default",
    replace_existing: bool = False,
    *,
    misfire_policy: MisfirePolicy | str | _Unset = UNSET,
    timeout: float | None = None,
    max_retries: int = 0,
    retry_delay: float = 0,
    rerun_lost: bool = False,
    enabled: bool = True,
    source: ScheduleSource | str = ScheduleSource.CODE,
    **trigger_args: Any,
) -> Schedule:
    """Create a schedule for a registered callable and return it.

    Raises JobNotRegistered (unknown callable), TriggerError (bad trigger or trigger argument),
    InvalidSchedule (any other bad argument) or ScheduleExists (the id is taken and
    ``replace_existing`` is False); nothing is written then. ``jobstore`` is accepted for
    APScheduler compatibility and ignored: the database is the one store.
    """
    schedule = build_schedule(
        func,
        trigger,
        args,
        kwargs,
        id,
        name,
        misfire_grace_time,
        coalesce,
        max_instances,
        next_run_time,
        executor,
        misfire_policy=misfire_policy,
        timeout=timeout,
        max_retries=max_retries,
        retry_delay=retry_delay,
        rerun_lost=rerun_lost,
        enabled=enabled,
        source=_source(source),
        **trigger_args,
    )
    _boolean("replace_existing", replace_existing)
    phase_free = (
        trigger_args.get("start_date") is None
        if trigger is None or isinstance(trigger, str)
        else trigger.start_date is None
    )

    def same(existing: Schedule) -> bool:
        # add_job(..., replace_existing=True) at every start-up is the APScheduler idiom: an
        # identical definition keeps its row, its next run and its interval phase.
        return next_run_time is UNSET and same_definition(existing, schedule, phase_free)

    schedule, written = store.insert_schedule(
        schedule, replace_existing=replace_existing, same=same
    )
    if written:
        _announce(schedule, "added")
    return schedule


# The fields that define a schedule (what add_job and SCHEDULES_JOBS set).
DEFINITION_FIELDS = (
    "name",
    "func",
    "args",
    "kwargs",
    "trigger",
    "trigger_kind",
    "executor",
    "misfire_grace_time",
    "misfire_policy",
    "max_instances",
    "timeout",
    "max_retries",
    "retry_delay",
    "rerun_lost",
)


def without_start(trigger: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in trigger.items() if key != "start_date"}


def changed_fields(existing: Schedule, wanted: Schedule, phase_free: bool) -> list[str]:
    """The definition fields in which ``wanted`` differs from ``existing``.

    With ``phase_free`` (no start date was given, so the API pinned one from now), a trigger
    that differs only in its start date is the same trigger: the existing phase is kept.
    """
    fields = [f for f in DEFINITION_FIELDS if getattr(existing, f) != getattr(wanted, f)]
    if (
        "trigger" in fields
        and phase_free
        and without_start(existing.trigger) == without_start(wanted.trigger)
    ):
        fields.remove("trigger")
    return fields


def same_definition(existing: Schedule, wanted: Schedule, phase_free: bool) -> bool:
    return (
        not changed_fields(existing, wanted, phase_free)
        and existing.enabled == wanted.enabled
        and existing.source == wanted.source
    )


def get_job(job_id: str, jobstore: str | None = None) -> Schedule | None:
    """Return the schedule with this job id, or None (as APScheduler's ``get_job``)."""
    return store.find_schedule(job_id)


def get_jobs(jobstore: str | None = None, pending: bool | None = None) -> list[Schedule]:
    """Every schedule, soonest next run first; paused and exhausted ones last."""
    return store.list_schedules()


def modify_job(job_id: str, jobstore: str | None = None, **changes: Any) -> Schedule:
    """Change some of a schedule's properties; return the schedule.

    Accepts ``add_job``'s arguments (not ``id``). A new ``trigger`` (an object or a name)
    recomputes the next run unless ``next_run_time`` is given too; ``next_run_time=None``
    pauses the schedule. Raises ScheduleNotFound, or the errors ``add_job`` raises.
    """
    unknown = sorted(set(changes) - MODIFIABLE)
    if unknown:
        if "id" in unknown:
            raise InvalidSchedule(f"a schedule's id cannot be changed (got id={changes['id']!r})")
        raise InvalidSchedule(
            f"modify_job cannot change {', '.join(unknown)}; it accepts "
            f"{', '.join(sorted(MODIFIABLE))}"
        )
    now = _now()

    def change(schedule: Schedule) -> dict[str, Any]:
        from django_schedules.triggers import trigger_from_dict

        fields: dict[str, Any] = {}
        # Only a change to what runs needs the callable: a schedule whose callable is gone
        # can still be renamed, paused or pointed at another one.
        if "args" in changes or "kwargs" in changes or "func" in changes:
            job = lookup(changes.get("func", schedule.func))
            fields["func"] = job.name
            fields["args"], fields["kwargs"] = _arguments(
                job, changes.get("args", schedule.args), changes.get("kwargs", schedule.kwargs)
            )
        if "name" in changes:
            fields["name"] = _text("name", changes["name"], MAX_NAME, allow_empty=True)
        if "trigger" in changes:
            built = build_trigger(changes["trigger"], {}, now)
            fields["trigger"] = trigger_json(built)
            fields["trigger_kind"] = fields["trigger"]["kind"]
            fields["next_run_at"] = first_run(built, now)
        if "misfire_grace_time" in changes:
            fields["misfire_grace_time"] = _whole(
                "misfire_grace_time", changes["misfire_grace_time"], minimum=1, allow_none=True
            )
        policy = _misfire_policy(
            changes.get("coalesce", UNSET), changes.get("misfire_policy", UNSET)
        )
        if policy is not None:
            fields["misfire_policy"] = policy
        if "max_instances" in changes:
            fields["max_instances"] = _count("max_instances", changes["max_instances"], minimum=1)
        if "executor" in changes:
            fields["executor"] = _executor(changes["executor"])
        if "timeout" in changes:
            fields["timeout"] = _seconds(
                "timeout", changes["timeout"], positive=True, allow_none=True
            )
        if "max_retries" in changes:
            fields["max_retries"] = _count("max_retries", changes["max_retries"], minimum=0)
        if "retry_delay" in changes:
            fields["retry_delay"] = _duration("retry_delay", changes["retry_delay"])
        if "rerun_lost" in changes:
            fields["rerun_lost"] = _boolean("rerun_lost", changes["rerun_lost"])
        if "next_run_time" in changes:
            if "trigger" not in changes:
                built = trigger_from_dict(schedule.trigger)
            run_at = _next_run_time(changes["next_run_time"], _trigger_zone(built))
            if run_at is None:
                fields["enabled"] = False
            else:
                fields["next_run_at"] = run_at
        return fields

    schedule, changed = store.change_schedule(job_id, change)
    if changed:
        _announce(schedule, "modified")
    return schedule


def reschedule_job(
    job_id: str,
    jobstore: str | None = None,
    trigger: BaseTrigger | str | None = None,
    **trigger_args: Any,
) -> Schedule:
    """Give a schedule a new trigger (as ``add_job`` builds it) and compute its next run from
    now. A paused schedule stays paused."""
    now = _now()
    built = build_trigger(trigger, trigger_args, now)
    trigger_dict = trigger_json(built)
    next_run = first_run(built, now)

    def change(schedule: Schedule) -> dict[str, Any]:
        return {
            "trigger": trigger_dict,
            "trigger_kind": trigger_dict["kind"],
            "next_run_at": next_run,
        }

    schedule, changed = store.change_schedule(job_id, change)
    if changed:
        _announce(schedule, "rescheduled")
    return schedule


def pause_job(job_id: str, jobstore: str | None = None) -> Schedule:
    """Stop a schedule from firing until ``resume_job``. Pausing is not a misfire."""
    schedule, changed = store.change_schedule(job_id, lambda schedule: {"enabled": False})
    if changed:
        _announce(schedule, "paused")
    return schedule


def resume_job(job_id: str, jobstore: str | None = None) -> Schedule:
    """Let a paused schedule fire again, from its next occurrence after now (occurrences
    while it was paused are not misfires). Resuming a schedule that is not paused changes
    nothing."""
    from django_schedules.sync import REMOVED_FROM_SETTINGS
    from django_schedules.triggers import trigger_from_dict

    now = _now()

    def change(schedule: Schedule) -> dict[str, Any]:
        if schedule.enabled:
            return {}
        fields: dict[str, Any] = {
            "enabled": True,
            "next_run_at": first_run(trigger_from_dict(schedule.trigger), now),
        }
        if schedule.last_error == REMOVED_FROM_SETTINGS:
            fields["last_error"] = ""
        return fields

    schedule, changed = store.change_schedule(job_id, change)
    if changed:
        _announce(schedule, "resumed")
    return schedule


def remove_job(job_id: str, jobstore: str | None = None) -> None:
    """Delete a schedule. Its executions stay, as history, with their job id and name."""
    schedule = store.delete_schedule(job_id)
    _announce(schedule, "removed")


def run_job_now(job_id: str) -> Execution:
    """Record a manual, pending execution of the schedule now and wake the scheduler, which
    hands it to the schedule's executor. Works on paused schedules too.

    Raises ScheduleNotFound, or JobNotRegistered when the callable is no longer registered.
    """
    schedule = store.get_schedule(job_id)
    lookup(schedule.func)  # refuse a callable that disappeared after a deploy
    execution = store.insert_manual_execution(job_id, _now())
    _announce(schedule, "run_now")
    return execution


def describe_trigger(schedule: Schedule) -> str:
    """The schedule's trigger in words, or why it cannot be read."""
    from django_schedules.triggers import trigger_from_dict

    try:
        return trigger_from_dict(schedule.trigger).describe()
    except (TriggerError, KeyError, TypeError, ValueError) as exc:
        return f"invalid trigger: {exc}"


def print_jobs(jobstore: str | None = None, out: IO[str] | None = None) -> None:
    """Print the schedules, as APScheduler's ``print_jobs`` does."""
    out = out or sys.stdout
    schedules = store.list_schedules()
    zone = ZoneInfo(_project_zone())
    out.write("Jobstore default:\n")
    if not schedules:
        out.write("    No scheduled jobs\n")
    for schedule in schedules:
        if not schedule.enabled:
            when = "paused"
        elif schedule.next_run_at is None:
            when = "never"
        else:
            when = f"next run at: {schedule.next_run_at.astimezone(zone).isoformat()}"
        out.write(
            f"    {schedule.job_id}: {schedule.name} (trigger: {describe_trigger(schedule)}, "
            f"{when})\n"
        )
