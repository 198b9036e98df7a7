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
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django_schedules import options, store, triggers
from django_schedules.changes import REMOVED_FROM_SETTINGS, announce
from django_schedules.changes import now as _now
from django_schedules.conf import conf
from django_schedules.exceptions import InvalidSchedule, TriggerError
from django_schedules.listing import describe_trigger, print_jobs
from django_schedules.models import Execution, MisfirePolicy, Schedule, ScheduleSource
from django_schedules.options import (
    DEFINITION_FIELDS,
    MAX_JOB_ID,
    MAX_NAME,
    MODIFIABLE,
    UNSET,
    _Unset,
    json_safe,
)
from django_schedules.registry import RegisteredJob, lookup
from django_schedules.routing import check_executor

if TYPE_CHECKING:
    from django_schedules.triggers import BaseTrigger

__all__ = [
    "add_job",
    "describe_trigger",
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


# The trigger names add_job takes, and which take ``timezone=`` (the project's TIME_ZONE fills
# it in): both are the trigger classes' own facts (triggers.TRIGGER_KINDS).
TRIGGER_NAMES = triggers.trigger_kinds()
_ZONED = frozenset(kind for kind, cls in triggers.TRIGGER_KINDS.items() if cls.zoned)
# The options add_job sets from its keyword alone: each one's check gives its column's value.
# ``name`` defaults to the callable's name, and ``misfire_policy`` goes with ``coalesce``.
ROUTED = ("executor", "queue", "priority", "overlap")  # what a schedule asks of its executor
SETTINGS = tuple(
    option
    for option in options.PLAIN
    if option.definition and option.name not in ("name", "misfire_policy")
)

# --- validation (pure: reads settings and the registry, never the database) ---


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
    if trigger is None:
        trigger = "date"  # as APScheduler: no trigger means "once, now"
    if isinstance(trigger, str):
        cls = triggers.TRIGGER_KINDS.get(trigger)
        if cls is None:
            raise TriggerError(
                f"trigger must be one of {', '.join(TRIGGER_NAMES)} or a trigger object, "
                f"got {trigger!r}",
                "trigger",
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
                "pass them to the trigger's constructor, or pass the trigger by name",
                "trigger",
            )
        built = trigger
    else:
        raise TriggerError(
            f"trigger must be one of {', '.join(TRIGGER_NAMES)} or a trigger object, "
            f"got {trigger!r}",
            "trigger",
        )
    # An interval trigger without a start date fires first one interval after now, as in
    # APScheduler; pinning stores that phase, so it fires on the same beat after a restart.
    pinned = built.pinned(now)
    options.check_jitter(pinned, now)
    return pinned


def trigger_json(trigger: BaseTrigger) -> dict[str, Any]:
    """``trigger.to_dict()`` as the database gives it back (JSON types only)."""
    data: dict[str, Any] = json.loads(json.dumps(trigger.to_dict()))
    return data


def first_run(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The trigger's first fire time not before ``now``, in UTC; None when exhausted."""
    fire = trigger.get_next_fire_time(None, now)
    return None if fire is None else fire.astimezone(UTC)


def _arguments(job: RegisteredJob, args: Any, kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    if args is None:
        args = []
    if kwargs is None:
        kwargs = {}
    if not isinstance(args, list | tuple):
        raise InvalidSchedule(f"args must be a list or a tuple, got {args!r}", "args")
    if not isinstance(kwargs, dict):
        raise InvalidSchedule(f"kwargs must be a dict, got {kwargs!r}", "kwargs")
    safe_args = json_safe(args, "args", field="args")
    safe_kwargs = json_safe(kwargs, "kwargs", field="kwargs")
    try:
        job.bind(safe_args, safe_kwargs)
    except TypeError as exc:
        raise InvalidSchedule(
            f"args={safe_args!r}, kwargs={safe_kwargs!r} do not fit the callable: {exc}",
            "args",  # the first of the two; the form checks the binding itself, on its field
        ) from exc
    # What is stored must read back equal: JSON round trip (e.g. 1e400 is inf, caught above).
    assert json.loads(json.dumps(safe_args)) == safe_args  # noqa: S101 - our own invariant
    return safe_args, safe_kwargs


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
    overlap: Any = "",
    calendars: Any = (),
    max_runs: Any = None,
    pause_after_failures: Any = None,
    timeout: Any = None,
    max_retries: Any = 0,
    retry_delay: Any = 0,
    rerun_lost: Any = False,
    queue: Any = "",
    priority: Any = None,
    enabled: Any = True,
    pause_reason: Any = "",
    paused_until: Any = None,
    source: ScheduleSource = ScheduleSource.CODE,
    group: Any = "",
    now: datetime | None = None,
    **trigger_args: Any,
) -> Schedule:
    """Validate everything ``add_job`` takes and return the unsaved ``Schedule``."""
    # The signature spells the keywords for typing and docs; the options table says how each
    # is checked and stored (a test asserts that the two agree).
    given = locals()
    now = now or _now()
    job = lookup(func)
    built = build_trigger(trigger, trigger_args, now)
    safe_args, safe_kwargs = _arguments(job, args, kwargs)
    job_id = (
        uuid.uuid4().hex if id is None else options.text("id", id, MAX_JOB_ID, allow_empty=False)
    )
    if name is None:
        name = str(getattr(job.func, "__qualname__", job.name))[:MAX_NAME]
    policy = options.chosen_policy(coalesce, misfire_policy)
    schedule = Schedule(
        job_id=job_id,
        name=options.BY_NAME["name"].clean(name),
        func=job.name,
        args=safe_args,
        kwargs=safe_kwargs,
        trigger=trigger_json(built),
        trigger_kind=trigger_json(built)["kind"],
        misfire_policy=policy or options.BY_NAME["misfire_policy"].default,
        source=source,
        group=options.group(group),
        **{str(option.column): option.clean(given[option.name]) for option in SETTINGS},
    )
    if next_run_time is UNSET:
        schedule.next_run_at = first_run(built, now)
    else:
        run_at = options.next_run_time(next_run_time, _trigger_zone(built))
        schedule.next_run_at = run_at if run_at is not None else first_run(built, now)
        schedule.enabled = run_at is not None  # APScheduler: next_run_time=None adds it paused
    if not options.BY_NAME["enabled"].clean(enabled):
        schedule.enabled = False
    routed = [getattr(schedule, f) for f in ROUTED]
    check_executor(*routed, func_name=schedule.func)
    schedule.pause_reason = options.BY_NAME["pause_reason"].clean(pause_reason)
    schedule.paused_until = options.BY_NAME["paused_until"].clean(paused_until)
    options.check_pause(schedule.enabled, schedule.pause_reason, schedule.paused_until, now)
    return schedule


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
    overlap: str | None = "",
    calendars: Sequence[str] = (),
    max_runs: int | None = None,
    pause_after_failures: int | None = None,
    timeout: float | None = None,
    max_retries: int = 0,
    retry_delay: float = 0,
    rerun_lost: bool = False,
    queue: str = "",
    priority: int | None = None,
    enabled: bool = True,
    pause_reason: str = "",
    paused_until: datetime | str | None = None,
    source: ScheduleSource | str = ScheduleSource.CODE,
    group: str = "",
    **trigger_args: Any,
) -> Schedule:
    """Create a schedule for a registered callable and return it.

    Raises JobNotRegistered (unknown callable), TriggerError (bad trigger or trigger argument),
    InvalidSchedule (any other bad argument) or ScheduleExists (the id is taken and
    ``replace_existing`` is False); nothing is written then. ``jobstore`` is accepted for
    APScheduler compatibility and ignored: the database is the one store. ``group`` files
    the schedule under a scheduler group, whose objects' ``remove_all_jobs()`` removes it;
    the scheduler objects pass their own, and the default (empty) is no group's.
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
        overlap=overlap,
        calendars=calendars,
        max_runs=max_runs,
        pause_after_failures=pause_after_failures,
        timeout=timeout,
        max_retries=max_retries,
        retry_delay=retry_delay,
        rerun_lost=rerun_lost,
        queue=queue,
        priority=priority,
        enabled=enabled,
        pause_reason=pause_reason,
        paused_until=paused_until,
        source=options.source(source),
        group=group,
        **trigger_args,
    )
    options.BY_NAME["replace_existing"].clean(replace_existing)
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
        announce(schedule, "added")
    return schedule


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
        and existing.group == wanted.group
    )


def get_job(job_id: str, jobstore: str | None = None) -> Schedule | None:
    """Return the schedule with this job id, or None (as APScheduler's ``get_job``)."""
    return store.find_schedule(job_id)


def get_jobs(jobstore: str | None = None, pending: bool | None = None) -> list[Schedule]:
    """Every schedule, soonest next run first; paused and exhausted ones last."""
    return store.list_schedules()


def modify_job(job_id: str, jobstore: str | None = None, **changes: Any) -> Schedule:
    """Change some of a schedule's properties; return the schedule.

    Accepts ``add_job``'s arguments (not ``id``), and ``enabled``: False pauses, True resumes
    as ``resume_job`` does. A new ``trigger`` (an object or a name) recomputes the next run
    unless ``next_run_time`` is given too; ``next_run_time=None`` pauses the schedule. Raises
    ScheduleNotFound, or the errors ``add_job`` raises.
    """
    unknown = sorted(set(changes) - MODIFIABLE)
    if unknown:
        if "id" in unknown:
            raise InvalidSchedule(
                f"a schedule's id cannot be changed (got id={changes['id']!r})", "id"
            )
        raise InvalidSchedule(
            f"modify_job cannot change {', '.join(unknown)}; it accepts "
            f"{', '.join(sorted(MODIFIABLE))}",
            unknown[0],
        )
    now = _now()

    def change(schedule: Schedule) -> dict[str, Any]:
        return changed_values(schedule, changes, now)

    schedule, changed = _write_change(job_id, change)
    if changed:
        announce(schedule, "modified")
    return schedule


def changed_values(schedule: Schedule, changes: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The column values ``modify_job(**changes)`` writes to ``schedule`` (the locked row).

    Reads the row and the registry only; raises, writing nothing, on the first bad value.
    """
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
    for option in options.PLAIN:
        if option.name in changes and option.name not in ("misfire_policy", "enabled"):
            fields[option.column or option.name] = option.clean(changes[option.name])
    if {*ROUTED, "func"} & set(changes):
        routed = [fields.get(f, getattr(schedule, f)) for f in ROUTED]
        check_executor(*routed, func_name=fields.get("func", schedule.func))
    policy = options.chosen_policy(
        changes.get("coalesce", UNSET), changes.get("misfire_policy", UNSET)
    )
    if policy is not None:
        fields["misfire_policy"] = policy
    built = None
    if "trigger" in changes:
        built = build_trigger(changes["trigger"], {}, now)
        fields["trigger"] = trigger_json(built)
        fields["trigger_kind"] = fields["trigger"]["kind"]
        fields["next_run_at"] = first_run(built, now)
    enabled = options.BY_NAME["enabled"].clean(changes.get("enabled", UNSET))
    if "enabled" in changes and enabled != schedule.enabled:
        fields["enabled"] = enabled
        if enabled:  # resumed: from its next occurrence after now (paused ones are not missed)
            built = built or trigger_from_dict(schedule.trigger)
            fields.setdefault("next_run_at", first_run(built, now))
            if schedule.last_error == REMOVED_FROM_SETTINGS:
                fields["last_error"] = ""
    if "next_run_time" in changes:
        built = built or trigger_from_dict(schedule.trigger)
        run_at = options.next_run_time(changes["next_run_time"], _trigger_zone(built))
        if run_at is None:
            if enabled is True and "enabled" in changes:
                raise InvalidSchedule(
                    "next_run_time=None pauses the schedule, which contradicts enabled=True; "
                    "give one of them",
                    "next_run_time",
                )
            fields["enabled"] = False
        else:
            fields["next_run_at"] = run_at
    enabled = fields.get("enabled", schedule.enabled)
    if enabled and not schedule.enabled:  # resumed: the pause's reason and end go with it
        fields.setdefault("pause_reason", "")
        fields.setdefault("paused_until", None)
        fields["failures_in_a_row"] = 0  # a fresh start: the failures before count no more
    until = fields["paused_until"] if "paused_until" in changes else None  # kept: not checked
    options.check_pause(enabled, fields.get("pause_reason", schedule.pause_reason), until, now)
    if enabled and not schedule.enabled:
        limit = fields.get("max_runs", schedule.max_runs)
        options.check_run_limit(enabled, limit, schedule.runs_started)
    return fields


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

    schedule, changed = _write_change(job_id, change)
    if changed:
        announce(schedule, "rescheduled")
    return schedule


def _write_change(
    job_id: str, change: Callable[[Schedule], dict[str, Any]]
) -> tuple[Schedule, bool]:
    """Lock the schedule, compute its new values with ``change`` (which reads only the row and
    the registry, and may raise to write nothing), and write them, in one transaction retried
    as a whole on a lock conflict. Returns the row and whether anything was written."""

    def attempt() -> tuple[Schedule, bool]:
        with store.write_transaction() as alias:
            schedule = store.locked_schedule(job_id, alias)
            return schedule, store.save_schedule(schedule, change(schedule), alias)

    return store.retry(attempt, once_in_transaction=True)


def pause_job(
    job_id: str,
    jobstore: str | None = None,
    *,
    reason: str = "",
    until: datetime | str | None = None,
) -> Schedule:
    """Stop a schedule from firing until ``resume_job``, or until ``until`` (then it resumes
    by itself, from its next occurrence at or after ``until``); ``reason`` says why, in the
    admin. Pausing a paused schedule sets its reason and end anew. Pausing is not a misfire.
    Raises InvalidSchedule naming ``pause_reason`` or ``paused_until``, writing nothing."""
    changes = {"enabled": False, "pause_reason": reason, "paused_until": until}
    return _switch(job_id, changes, action="paused")


def resume_job(job_id: str, jobstore: str | None = None, *, catch_up: bool = False) -> Schedule:
    """Let a paused schedule fire again, clearing its pause reason and end. From its next
    occurrence after now (occurrences while it was paused are not misfires); with
    ``catch_up``, from where it stopped, the occurrences missed while paused handled by its
    misfire policy. Resuming a schedule that is not paused changes nothing."""
    if not isinstance(catch_up, bool):
        raise InvalidSchedule(f"catch_up must be True or False, got {catch_up!r}", "catch_up")
    return _switch(job_id, {"enabled": True}, action="resumed", keep_next_run=catch_up)


def _switch(
    job_id: str, changes: dict[str, Any], *, action: str, keep_next_run: bool = False
) -> Schedule:
    now = _now()

    def change(schedule: Schedule) -> dict[str, Any]:
        fields = changed_values(schedule, changes, now)
        if keep_next_run and fields.get("enabled"):
            fields.pop("next_run_at", None)  # the claim's misfire policy takes it from here
        return fields

    schedule, changed = _write_change(job_id, change)
    if changed:
        announce(schedule, action)
    return schedule


def remove_job(job_id: str, jobstore: str | None = None) -> None:
    """Delete a schedule. Its executions stay, as history, with their job id and name; those
    not yet started (claimed ahead of their time, or from :func:`run_job_now`) are recorded
    as skipped and never run."""
    schedule = store.delete_schedule(job_id, _now())
    announce(schedule, "removed")


def run_job_now(job_id: str) -> Execution:
    """Record a manual, pending execution of the schedule now and wake the scheduler, which
    hands it to the schedule's executor. Works on paused schedules too.

    Raises ScheduleNotFound, or JobNotRegistered when the callable is no longer registered.
    """
    schedule = store.get_schedule(job_id)
    lookup(schedule.func)  # refuse a callable that disappeared after a deploy
    execution = store.insert_manual_execution(job_id, _now())
    announce(schedule, "run_now")
    return execution
