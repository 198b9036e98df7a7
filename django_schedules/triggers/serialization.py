"""trigger_from_dict: the one reader of `to_dict()` output (format version 1)."""

from __future__ import annotations

from typing import Any

from django_schedules.exceptions import TriggerError
from django_schedules.triggers.base import FORMAT_VERSION, BaseTrigger

_COMMON = {"start_date", "end_date", "timezone", "jitter"}
FIELDS: dict[str, set[str]] = {
    "date": {"run_date", "timezone"},
    "interval": {"weeks", "days", "hours", "minutes", "seconds"} | _COMMON,
    "cron": {"year", "month", "day", "week", "day_of_week", "hour", "minute", "second"}
    | {"crontab"}
    | _COMMON,
    "calendarinterval": {"years", "months", "weeks", "days", "hour", "minute", "second"} | _COMMON,
    "and": {"triggers", "jitter"},
    "or": {"triggers", "jitter"},
}
_MAX_DEPTH = 16


def trigger_from_dict(data: Any) -> BaseTrigger:
    """Rebuild a trigger from `to_dict()` output.

    Raise TriggerError naming the problem for anything else: not a dict, an unknown
    `"version"` or `"kind"`, an unknown field, or a bad value (the trigger's own check).
    """
    return _from_dict(data, 0)


def _from_dict(data: Any, depth: int) -> BaseTrigger:
    from django_schedules.triggers.calendarinterval import CalendarIntervalTrigger
    from django_schedules.triggers.combining import AndTrigger, OrTrigger
    from django_schedules.triggers.cron import CronTrigger
    from django_schedules.triggers.date import DateTrigger
    from django_schedules.triggers.interval import IntervalTrigger

    if not isinstance(data, dict):
        raise TriggerError(f"Bad trigger {_short(data)}: a trigger dict must be a dict")
    if depth > _MAX_DEPTH:
        raise TriggerError(f"Bad trigger dict: nested deeper than {_MAX_DEPTH} levels")
    version = data.get("version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise TriggerError(
            f"Bad version {_short(version)} in trigger dict: this release reads version "
            f"{FORMAT_VERSION}"
        )
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in FIELDS:
        raise TriggerError(
            f"Bad kind {_short(kind)} in trigger dict: known kinds are {', '.join(FIELDS)}"
        )
    unknown = sorted(str(key) for key in data if key not in FIELDS[kind] | {"version", "kind"})
    if unknown:
        raise TriggerError(
            f"Bad field {', '.join(map(repr, unknown))} in trigger dict of kind {kind!r}: "
            f"known fields are {', '.join(sorted(FIELDS[kind]))}"
        )
    args = {key: value for key, value in data.items() if key not in ("version", "kind")}
    if kind == "date":
        if "run_date" not in args:
            raise TriggerError("Bad trigger dict of kind 'date': the field 'run_date' is missing")
        return DateTrigger(**args)
    if kind == "interval":
        return IntervalTrigger(**args)
    if kind == "calendarinterval":
        return CalendarIntervalTrigger(**args)
    if kind == "cron":
        if "crontab" in args:
            expr = args.pop("crontab")
            clash = sorted(set(args) - _COMMON)
            if clash:
                raise TriggerError(
                    f"Bad field {', '.join(map(repr, clash))} in trigger dict of kind 'cron': "
                    "a crontab trigger takes no separate cron fields"
                )
            return CronTrigger.from_crontab(expr, **args)
        return CronTrigger(**args)
    children = args.get("triggers")
    if not isinstance(children, list):
        raise TriggerError(
            f"Bad triggers {_short(children)} in trigger dict of kind {kind!r}: must be a list"
        )
    built = [_from_dict(child, depth + 1) for child in children]
    cls = AndTrigger if kind == "and" else OrTrigger
    return cls(built, jitter=args.get("jitter"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."
