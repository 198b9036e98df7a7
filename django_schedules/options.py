"""Each schedule option, declared once: ``OPTIONS`` below.

An option's entry gives its name (the keyword of ``add_job`` and ``modify_job``), how a given
value is checked (an ``InvalidSchedule`` whose message names the field and the value, and whose
``field`` names it as data), its default, whether ``modify_job`` may change it, the ``Schedule``
column it sets, and whether the admin form edits it, with its help text. ``add_job``,
``build_schedule``, ``modify_job``, the ``SCHEDULES_JOBS`` sync, the admin form and its
``save_model`` all read this table. A new option is an entry here, a model field and its tests.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from django_schedules import calendars, models, store
from django_schedules.conf import conf
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import MisfirePolicy, OverlapPolicy, Schedule, ScheduleSource
from django_schedules.options_json import (
    MAX_JSON_DEPTH,
    MAX_JSON_INT,
    json_safe,
    short,
    storable_text,
)

# Re-exported: the callers of these checks import them from here.
__all__ = ["MAX_JSON_DEPTH", "MAX_JSON_INT", "json_safe", "short", "storable_text"]

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    from django_schedules.triggers import BaseTrigger


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "<unset>"


UNSET: Final = _Unset.UNSET

MAX_JOB_ID = Schedule._meta.get_field("job_id").max_length or 200
MAX_NAME = Schedule._meta.get_field("name").max_length or 200
# The largest value every database's PositiveIntegerField holds (PostgreSQL's integer).
MAX_WHOLE = 2_147_483_647
# Timeouts and retry delays end up in waits on the monotonic clock, which overflow past about
# 9e9 seconds; a year is longer than any run or retry delay can sensibly be.
MAX_SECONDS = 366 * 24 * 3600


# --- checks: each returns the value to store, or raises InvalidSchedule naming `field` ---


def whole(field: str, value: Any, *, minimum: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_WHOLE:
        rule = f"a whole number from {minimum} to {MAX_WHOLE}" + (", or None" if allow_none else "")
        raise InvalidSchedule(f"{field} must be {rule}, got {short(value)}", field)
    return value


def seconds(field: str, value: Any, *, positive: bool, allow_none: bool = False) -> float | None:
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
            f"got {short(value)}",
            field,
        )
    return float(value)


def text(field: str, value: Any, max_length: int, *, allow_empty: bool) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        kind = "a string" if allow_empty else "a non-empty string"
        raise InvalidSchedule(f"{field} must be {kind}, got {short(value)}", field)
    if len(value) > max_length:
        raise InvalidSchedule(
            f"{field} must be at most {max_length} characters, got {len(value)}: {short(value)}",
            field,
        )
    problem = storable_text(value)
    if problem:
        raise InvalidSchedule(f"{field} = {value!r} cannot be stored: {problem}", field)
    return value


def boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidSchedule(f"{field} must be True or False, got {value!r}", field)
    return value


def executor(value: Any) -> str:
    executors: object = conf.SCHEDULES_EXECUTORS
    if not isinstance(value, str) or not isinstance(executors, dict) or value not in executors:
        known = ", ".join(repr(name) for name in executors) if isinstance(executors, dict) else ""
        raise InvalidSchedule(
            f"executor must name a key of SCHEDULES_EXECUTORS ({known}), got {value!r}",
            "executor",
        )
    return value


MAX_QUEUE = Schedule._meta.get_field("queue").max_length or 100
# django.tasks' priority range (TASK_MIN_PRIORITY, TASK_MAX_PRIORITY), not imported: the
# tasks framework is optional. The backend's own check runs too (routing.check_routing).
MIN_PRIORITY, MAX_PRIORITY = -100, 100


def queue(value: Any) -> str:
    """A queue name, or None or "" for the executor's own ``queue_name``."""
    return "" if value is None else text("queue", value, MAX_QUEUE, allow_empty=True).strip()


def priority(value: Any) -> int | None:
    """A priority from -100 to 100, or None for the executor's own ``priority``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSchedule(
            f"priority must be a whole number from {MIN_PRIORITY} to {MAX_PRIORITY}, or None, "
            f"got {short(value)}",
            "priority",
        )
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise InvalidSchedule(
            f"priority must be from {MIN_PRIORITY} to {MAX_PRIORITY}, got {value}", "priority"
        )
    return value


def misfire_policy(value: Any) -> MisfirePolicy:
    if value not in MisfirePolicy.values:
        raise InvalidSchedule(
            f"misfire_policy must be one of {', '.join(MisfirePolicy.values)}, got {value!r}",
            "misfire_policy",
        )
    return MisfirePolicy(value)


def coalesce(value: Any) -> MisfirePolicy:
    """APScheduler's ``coalesce``, as the misfire policy it means."""
    if not isinstance(value, bool):
        raise InvalidSchedule(f"coalesce must be True or False, got {value!r}", "coalesce")
    return MisfirePolicy.RUN_ONCE if value else MisfirePolicy.RUN_ALL


def chosen_policy(coalesce_value: Any, policy: Any) -> MisfirePolicy | None:
    """APScheduler's ``coalesce`` and our ``misfire_policy``; None when neither is given."""
    from_coalesce = None if coalesce_value is UNSET else coalesce(coalesce_value)
    chosen = None if policy is UNSET or policy is None else misfire_policy(policy)
    if from_coalesce is not None and chosen is not None and from_coalesce != chosen:
        raise InvalidSchedule(
            f"coalesce={coalesce_value!r} means misfire_policy={from_coalesce.value!r}, which "
            f"contradicts misfire_policy={chosen.value!r}; give one of them",
            "misfire_policy",
        )
    return chosen or from_coalesce


def overlap(value: Any) -> OverlapPolicy:
    """An overlap policy; None or "" for none (``max_instances`` decides)."""
    if value is None or value == "":
        return OverlapPolicy.NONE
    if value not in OverlapPolicy.values:
        known = ", ".join(repr(v) for v in OverlapPolicy.values if v)
        raise InvalidSchedule(f"overlap must be one of {known}, or None, got {value!r}", "overlap")
    return OverlapPolicy(value)


# Set by ``without_database``: checks that must not query (the system checks, which also run
# before migrations) check calendar names' spelling, not that they exist.
_OFFLINE: ContextVar[bool] = ContextVar("django_schedules_options_offline", default=False)


@contextmanager
def without_database() -> Iterator[None]:
    token = _OFFLINE.set(True)
    try:
        yield
    finally:
        _OFFLINE.reset(token)


def calendar_list(value: Any) -> list[str]:
    """The names of exclusion calendars, each naming a calendar that exists; None or [] for
    none. Duplicates are dropped, the order kept (the first covering names a skip)."""
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise InvalidSchedule(
            f"calendars must be a list of calendar names, got {short(value)}", "calendars"
        )
    names = list(dict.fromkeys(calendars.check_name(name, "calendars") for name in value))
    if _OFFLINE.get() or not names:
        return names
    known = store.known_calendars(names)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidSchedule(
            f"calendars: no calendar is named {unknown[0]!r}; add it with add_calendar() "
            "or in the admin first",
            "calendars",
        )
    return names


def source(value: Any) -> ScheduleSource:
    if value not in ScheduleSource.values:
        raise InvalidSchedule(
            f"source must be one of {', '.join(ScheduleSource.values)}, got {value!r}", "source"
        )
    return ScheduleSource(value)


def group(value: Any) -> str:
    """The scheduler group a code-made schedule is filed under: empty (none), or a name."""
    if value == "" or (isinstance(value, str) and models.GROUP_RE.fullmatch(value)):
        return str(value)
    rule = models.GROUP_RULE
    raise InvalidSchedule(f"group must be empty or {rule}, got {short(value)}", "group")


def next_run_time(value: Any, zone: tzinfo) -> datetime | None:
    """APScheduler's ``next_run_time``: an aware or naive datetime (naive: in the trigger's
    zone) or an ISO 8601 string; None means paused."""
    if value is None:
        return None
    problem = f"next_run_time must be a datetime, an ISO 8601 string or None, got {value!r}"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidSchedule(problem, "next_run_time") from exc
    if not isinstance(value, datetime):
        raise InvalidSchedule(problem, "next_run_time")
    moment: datetime = value
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


MAX_PAUSE_REASON = Schedule._meta.get_field("pause_reason").max_length or 500


def moment(field: str, value: Any) -> datetime | None:
    """An aware datetime, a naive one (in the project's TIME_ZONE) or an ISO 8601 string, in
    UTC; None stays None."""
    if value is None:
        return None
    problem = f"{field} must be a datetime, an ISO 8601 string or None, got {short(value)}"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidSchedule(problem, field) from exc
    if not isinstance(value, datetime):
        raise InvalidSchedule(problem, field)
    given: datetime = value
    if given.tzinfo is None or given.utcoffset() is None:
        given = given.replace(tzinfo=ZoneInfo(conf.TIME_ZONE))
    return given.astimezone(UTC)


def pause_reason(value: Any) -> str:
    if value is None:
        return ""
    return text("pause_reason", value, MAX_PAUSE_REASON, allow_empty=True)


def check_pause(enabled: bool, reason: str, until: datetime | None, now: datetime) -> None:
    """Refuse a pause reason or end on an enabled schedule, and an end not after ``now``."""
    if enabled and reason:
        raise InvalidSchedule(
            f"pause_reason is for a paused schedule (enabled=False), got {short(reason)} "
            "with enabled=True",
            "pause_reason",
        )
    if enabled and until is not None:
        raise InvalidSchedule(
            f"paused_until is for a paused schedule (enabled=False), got "
            f"{until.isoformat()} with enabled=True",
            "paused_until",
        )
    if until is not None and until <= now:
        raise InvalidSchedule(
            f"paused_until must be later than now ({now.isoformat()}), got {until.isoformat()}",
            "paused_until",
        )


def check_run_limit(enabled: bool, max_runs: int | None, runs_started: int) -> None:
    """Refuse to enable a schedule whose run limit is reached (it would start nothing)."""
    if enabled and max_runs is not None and runs_started >= max_runs:
        raise InvalidSchedule(
            f"the run limit is reached: max_runs={max_runs}, and {runs_started} runs started; "
            "raise max_runs, or remove the limit, to let the schedule run again",
            "max_runs",
        )


# A run's jitter delays its start by up to this much, and by less than the time to the next
# fire time: a later start would overlap the next occurrence (with max_instances 1, skip it).
MAX_JITTER = 24 * 3600
JITTER_LOOK_AHEAD = 10  # fire times whose gaps bound the jitter


def jitter_bound(trigger: BaseTrigger, now: datetime) -> timedelta:
    """The jitter `trigger` must stay under: a day, and the shortest gap between its next
    fire times after `now`."""
    fires = [fire.astimezone(UTC) for fire in trigger.fire_times(now, JITTER_LOOK_AHEAD)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(fires)]
    return min([timedelta(seconds=MAX_JITTER), *gaps])


def check_jitter(trigger: BaseTrigger, now: datetime) -> None:
    """Raise InvalidSchedule (field ``jitter``) when the trigger's jitter reaches its bound."""
    jitter = trigger.jitter
    if not jitter:
        return
    bound = jitter_bound(trigger, now)
    if timedelta(seconds=jitter) >= bound:
        raise InvalidSchedule(
            f"jitter must be shorter than the time between two fire times and than a day, "
            f"here under {bound.total_seconds():g} seconds, got {short(jitter)}",
            "jitter",
        )


# --- the table ---


@dataclass(frozen=True)
class Option:
    """One keyword of ``add_job``.

    ``check`` validates a given value and returns what is stored in ``column``; None means the
    API handles the option by hand (it spans columns, or needs the callable or the trigger).
    ``definition``: part of what a ``SCHEDULES_JOBS`` sync compares. ``form``: the admin form
    edits it under its column's name, with ``help_text`` (empty: the model field's).
    """

    name: str
    default: Any
    check: Callable[[Any], Any] | None = None
    column: str | None = None
    modifiable: bool = True
    definition: bool = False
    form: bool = False
    help_text: str | _StrPromise = ""

    def clean(self, value: Any) -> Any:
        """The value to store: the default when not given, else the checked value."""
        if value is UNSET:
            return self.default
        assert self.check is not None  # noqa: S101 - only called on checked options
        return self.check(value)


def _seconds_or_none(field: str) -> Callable[[Any], Any]:
    return lambda value: seconds(field, value, positive=True, allow_none=True)


OPTIONS: tuple[Option, ...] = (
    # What runs. ``func``, ``args`` and ``kwargs`` are checked together against the callable.
    Option("id", None, column="job_id", modifiable=False, form=True),
    Option(
        "name",
        None,  # the callable's qualified name
        lambda value: text("name", value, MAX_NAME, allow_empty=True),
        column="name",
        definition=True,
        form=True,
    ),
    Option("func", UNSET, column="func", definition=True, form=True),
    Option("args", None, column="args", definition=True, form=True),
    Option("kwargs", None, column="kwargs", definition=True, form=True),
    Option("enabled", True, lambda value: boolean("enabled", value), column="enabled", form=True),
    # Why it is paused, and until when (check_pause checks them with ``enabled``). The
    # operators' state, not the definition: a SCHEDULES_JOBS sync leaves a pause alone.
    Option("pause_reason", "", pause_reason, column="pause_reason", form=True),
    Option(
        "paused_until",
        None,
        lambda value: moment("paused_until", value),
        column="paused_until",
        form=True,
    ),
    # How it runs.
    Option(
        "executor",
        "default",
        executor,
        column="executor",
        definition=True,
        form=True,
        help_text=_("Where the job runs: named in SCHEDULES_EXECUTORS."),
    ),
    Option(
        "queue",
        "",
        queue,
        column="queue",
        definition=True,
        form=True,
        help_text=_(
            "A tasks executor only: the queue of its backend to send runs to (one of its "
            "QUEUES); empty for the executor's own."
        ),
    ),
    Option(
        "priority",
        None,
        priority,
        column="priority",
        definition=True,
        form=True,
        help_text=_(
            "A tasks executor only: from -100 to 100, where its backend supports "
            "priorities; empty for the executor's own."
        ),
    ),
    Option(
        "misfire_policy",
        MisfirePolicy.RUN_ONCE,
        misfire_policy,
        column="misfire_policy",
        definition=True,
        form=True,
        help_text=_(
            "When the scheduler was down or busy past the grace time: run once now for "
            "the latest missed time (the usual choice), skip what was missed, or run each "
            "missed time."
        ),
    ),
    Option(
        "misfire_grace_time",
        60,
        lambda value: whole("misfire_grace_time", value, minimum=1, allow_none=True),
        column="misfire_grace_time",
        definition=True,
        form=True,
    ),
    Option(
        "max_instances",
        1,
        lambda value: whole("max_instances", value, minimum=1),
        column="max_instances",
        definition=True,
        form=True,
        help_text=_(
            "How many runs of this job may overlap; 1 never starts a run while one is going."
        ),
    ),
    Option("overlap", OverlapPolicy.NONE, overlap, column="overlap", definition=True, form=True),
    Option(
        "calendars",
        (),  # none: stored as []
        calendar_list,
        column="calendars",
        definition=True,
        form=True,
        help_text=_(
            "Exclusion calendars: occurrences inside any of them are not run, and are "
            "recorded as skipped with the calendar's name."
        ),
    ),
    Option(
        "max_runs",
        None,
        lambda value: whole("max_runs", value, minimum=1, allow_none=True),
        column="max_runs",
        definition=True,
        form=True,
    ),
    Option(
        "pause_after_failures",
        None,
        lambda value: whole("pause_after_failures", value, minimum=1, allow_none=True),
        column="pause_after_failures",
        definition=True,
        form=True,
    ),
    Option(
        "timeout",
        None,
        _seconds_or_none("timeout"),
        column="timeout",
        definition=True,
        form=True,
        help_text=_(
            "Seconds a run may take before it is stopped (where the executor can stop "
            "it) and marked failed."
        ),
    ),
    Option(
        "max_retries",
        0,
        lambda value: whole("max_retries", value, minimum=0),
        column="max_retries",
        definition=True,
        form=True,
        help_text=_("How many times to try a failed run again."),
    ),
    Option(
        "retry_delay",
        0.0,
        lambda value: seconds("retry_delay", value, positive=False),
        column="retry_delay",
        definition=True,
        form=True,
    ),
    Option(
        "rerun_lost",
        False,
        lambda value: boolean("rerun_lost", value),
        column="rerun_lost",
        definition=True,
        form=True,
    ),
    # When it runs. The trigger sets ``trigger``, ``trigger_kind`` and the next run.
    Option("trigger", None, column="trigger", definition=True),
    # APScheduler's spelling of misfire_policy; checked with it (chosen_policy).
    Option("coalesce", UNSET, coalesce),
    Option("next_run_time", UNSET),  # checked in the trigger's zone (next_run_time())
    # add_job's flags, not stored as given.
    Option("jobstore", "default", modifiable=False),
    Option(
        "replace_existing",
        False,
        lambda value: boolean("replace_existing", value),
        modifiable=False,
    ),
    Option("source", ScheduleSource.CODE, source, column="source", modifiable=False),
    # Whose it is: the group of the scheduler object that added it (remove_all_jobs).
    Option("group", "", group, column="group", modifiable=False),
)

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
# What modify_job(**changes) accepts, besides APScheduler's ``jobstore``.
MODIFIABLE = frozenset(option.name for option in OPTIONS if option.modifiable)
# The options whose check alone gives their column's value: set and changed the same way.
PLAIN = tuple(
    option for option in OPTIONS if option.check is not None and option.column is not None
)
# The columns that define a schedule (what add_job and SCHEDULES_JOBS set); the trigger's kind
# goes with the trigger.
DEFINITION_FIELDS = tuple(
    column
    for option in OPTIONS
    if option.definition and option.column is not None
    for column in (
        (option.column, "trigger_kind") if option.name == "trigger" else (option.column,)
    )
)
# The model fields the admin form edits, in the form's order.
FORM_FIELDS = [option.column for option in OPTIONS if option.form and option.column is not None]
# The form's settings that the admin hands to the API by the same name.
FORM_SETTINGS = tuple(option.name for option in PLAIN if option.form and option.name != "enabled")
FORM_HELP_TEXTS = {
    option.column: option.help_text
    for option in OPTIONS
    if option.form and option.column is not None and option.help_text
}
