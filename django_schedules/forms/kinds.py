"""The kinds of trigger the admin's form edits, each in one entry of ``KIND_FORMS``: its form
fields, how it builds the trigger (with the trigger classes themselves), and how it shows a
stored one again so that saving it back changes nothing. Trigger errors land on the field of
the argument they name (``TriggerError.field``), in the form's words.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy as _

from django_schedules.conf import conf
from django_schedules.exceptions import TriggerError
from django_schedules.triggers import (
    TRIGGER_KINDS,
    BaseTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
    DateTrigger,
    IntervalTrigger,
    trigger_from_dict,
)
from django_schedules.triggers.cron_fields import parse_static

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    StrOrPromise = str | _StrPromise
    # Where build_trigger reports an error: a form's add_error(field, message).
    ErrorSink = Callable[[str | None, Any], None]


WEEKDAYS = [
    ("mon", _("Mon")),
    ("tue", _("Tue")),
    ("wed", _("Wed")),
    ("thu", _("Thu")),
    ("fri", _("Fri")),
    ("sat", _("Sat")),
    ("sun", _("Sun")),
]

# Presets fill the cron fields in the browser; each is (label, field values).
CRON_PRESETS: list[tuple[str, dict[str, Any]]] = [
    (
        "Every weekday at 09:00",
        {"hour": "9", "minute": "0", "day_of_week": ["mon", "tue", "wed", "thu", "fri"]},
    ),
    ("Every day at midnight", {"hour": "0", "minute": "0", "day_of_week": []}),
    ("Every hour, on the hour", {"hour": "*", "minute": "0", "day_of_week": []}),
    ("Every 15 minutes", {"hour": "*", "minute": "*/15", "day_of_week": []}),
    ("Every Monday at 08:00", {"hour": "8", "minute": "0", "day_of_week": ["mon"]}),
    (
        "First day of the month at 06:00",
        {"day": "1", "hour": "6", "minute": "0", "day_of_week": []},
    ),
]

# Where each trigger argument lives in the form, so a TriggerError lands on its own field.
CRON_FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
INTERVAL_FIELDS = ("weeks", "days", "hours", "minutes", "seconds")
CALENDAR_FIELDS = ("years", "months", "weeks", "days")


def kind_fields(kind: str) -> list[str]:
    """The form fields that edit a trigger of `kind`: its own, then the window and jitter
    fields its class takes (the class's ``dict_fields`` say which)."""
    cls = TRIGGER_KINDS[kind]
    shared = [name for name in ("start_date", "end_date", "jitter") if name in cls.dict_fields]
    return [*KIND_FORMS[kind].fields, *shared]


def _field_for_error(kind: str, exc: TriggerError) -> str | None:
    """The form field of the trigger argument a TriggerError names (None: no single one)."""
    if exc.field is None:
        return None
    own = KIND_FORMS[kind].arguments.get(exc.field) if kind in KIND_FORMS else None
    if own is not None:
        return own
    shared = {"timezone", "start_date", "end_date", "jitter"} & TRIGGER_KINDS[kind].dict_fields
    return exc.field if exc.field in shared else None


def _aware(value: datetime | None, zone: str) -> datetime | None:
    if value is None:
        return None
    if django_timezone.is_aware(value):  # typed with its offset: that instant
        return value.astimezone(zoneinfo.ZoneInfo(zone))
    return value.replace(tzinfo=zoneinfo.ZoneInfo(zone))  # the schedule's wall clock


def build_trigger(
    cleaned: dict[str, Any],
    add_error: ErrorSink,
    *,
    reject_past_date: bool,
    kept: dict[str, datetime | None] | None = None,
) -> BaseTrigger | None:
    """Build the trigger the cleaned values describe; report each error on its own field.

    `add_error(field, message)` receives the form field an error belongs to (None: the form).
    `kept` gives exact values for the window fields the person did not touch (a stored start
    date keeps its microseconds, which the inputs do not show).
    """
    kind = cleaned.get("trigger_kind") or "cron"
    if kind not in KIND_FORMS:
        add_error("trigger_kind", _("Choose how the schedule runs."))
        return None
    zone = cleaned.get("timezone") or conf.TIME_ZONE
    cls = TRIGGER_KINDS[kind]
    window: dict[str, Any] = {}
    for name in ("start_date", "end_date"):
        if name in cls.dict_fields:
            value = kept[name] if kept and name in kept else _aware(cleaned.get(name), zone)
            window[name] = value
    if "jitter" in cls.dict_fields:
        window["jitter"] = cleaned.get("jitter") or None
    try:
        trigger = KIND_FORMS[kind].build(cleaned, add_error, zone, window)
    except TriggerError as exc:
        field = _field_for_error(kind, exc)
        add_error(field, trigger_message(exc, field))
        return None
    if trigger is not None and reject_past_date and trigger.only_fire_time is not None:
        fire = trigger.only_fire_time
        if fire < datetime.now(UTC):
            add_error(
                "run_date",
                _("%(value)s is in the past: a one-off schedule must be in the future.")
                % {"value": f"{fire:%Y-%m-%d %H:%M:%S} {zone}"},
            )
            return None
    return trigger


# Argument names and code words as the form's labels say them, for the messages.
_WORDS = {
    "start_date": _("the start"),
    "end_date": _("the end"),
    "run_date": _("the date"),
    "day_of_week": _("day of the week"),
    "day_of_month": _("day of the month"),
    "jitter": _("jitter"),
}
_CLASS_NAME = re.compile(r" in (?:[A-Z][a-z]+)+Trigger(?:\.\w+)?")
_ISO = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?")


def trigger_message(exc: TriggerError, field: str | None) -> str:
    """A TriggerError in the words of the form: the value as typed and the rule it broke,
    with no class names, argument names or ISO 8601 strings."""
    rule = getattr(exc, "rule", None)
    value = getattr(exc, "value", None)
    part = getattr(exc, "part", None)
    if rule is None:
        text = _CLASS_NAME.sub("", str(exc))
        text = _plain(text[4:] if text.startswith("Bad ") else text)
        text = text[:1].upper() + text[1:]
    else:
        # The value is quoted as typed; only the rule is put in the form's words.
        shown = _shown(value)
        if part and field == "crontab":
            text = f"{_word(part).capitalize()} {shown}: {_plain(rule)}"
        else:
            text = f"{shown}: {_plain(rule)}" if shown else _plain(rule)
    return text if text.endswith(".") else text + "."


def _plain(text: str) -> str:
    for name, words in _WORDS.items():
        text = text.replace(name, str(words))
    return _ISO.sub(r"\1 \2", text).replace("_", " ")


def _shown(value: object) -> str:
    """The value as the form shows it: a date and time in the schedule's zone, as typed."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _word(name: str) -> str:
    return str(_WORDS.get(name, name.replace("_", " ")))


# -- each kind the form edits: its fields, how it builds the trigger, how it shows one --------


def _build_date(
    cleaned: dict[str, Any], add_error: ErrorSink, zone: str, window: dict[str, Any]
) -> BaseTrigger | None:
    run_date, run_time = cleaned.get("run_date"), cleaned.get("run_time")
    if run_date is None:
        add_error("run_date", _("Choose the date to run on."))
        return None
    return DateTrigger(datetime.combine(run_date, run_time or time(0)), timezone=zone)


def _build_interval(
    cleaned: dict[str, Any], add_error: ErrorSink, zone: str, window: dict[str, Any]
) -> BaseTrigger | None:
    values: dict[str, Any] = {
        name: cleaned.get(f"interval_{name}") or 0 for name in INTERVAL_FIELDS
    }
    if not any(values.values()):
        add_error("interval_seconds", _("Give an interval greater than zero."))
        return None
    return IntervalTrigger(**values, timezone=zone, **window)


def _build_calendar(
    cleaned: dict[str, Any], add_error: ErrorSink, zone: str, window: dict[str, Any]
) -> BaseTrigger | None:
    values: dict[str, Any] = {
        name: cleaned.get(f"calendar_{name}") or 0 for name in CALENDAR_FIELDS
    }
    if not any(values.values()):
        add_error(
            "calendar_days", _("Give a number of years, months, weeks or days greater than zero.")
        )
        return None
    at = cleaned.get("calendar_time") or time(0)
    return CalendarIntervalTrigger(
        **values, hour=at.hour, minute=at.minute, second=at.second, timezone=zone, **window
    )


def _build_cron(
    cleaned: dict[str, Any], add_error: ErrorSink, zone: str, window: dict[str, Any]
) -> BaseTrigger | None:
    if cleaned.get("cron_mode") == "crontab":
        expr = (cleaned.get("crontab") or "").strip()
        if not expr:
            add_error("crontab", _("Type a crontab line, such as 30 9 * * 1-5."))
            return None
        return CronTrigger.from_crontab(expr, timezone=zone, **window)
    days = cleaned.get("cron_day_of_week") or []
    fields: dict[str, Any] = {}
    for name in CRON_FIELDS:
        if name == "day_of_week":
            value: Any = ",".join(days) if days else None
        else:
            value = (cleaned.get(f"cron_{name}") or "").strip() or None
        fields[name] = value
    # Every field left empty means "any" ('*'), whatever comes after it: the second, the last
    # field, is always given (APScheduler would otherwise give the empty ones their minimum).
    if fields["second"] is None:
        fields["second"] = "0"
    return CronTrigger(**fields, timezone=zone, **window)


def _local(trigger: BaseTrigger, value: datetime | None) -> datetime | None:
    return value.astimezone(trigger.timezone).replace(tzinfo=None) if value else None


def _date_initial(trigger: BaseTrigger) -> dict[str, Any]:
    moment = _local(trigger, trigger.only_fire_time)
    return {} if moment is None else {"run_date": moment.date(), "run_time": moment.time()}


def _interval_initial(trigger: BaseTrigger) -> dict[str, Any]:
    data = trigger.to_dict()
    return {f"interval_{name}": data.get(name) or None for name in INTERVAL_FIELDS}


def _calendar_initial(trigger: BaseTrigger) -> dict[str, Any]:
    data = trigger.to_dict()
    initial: dict[str, Any] = {
        f"calendar_{name}": data.get(name) or None for name in CALENDAR_FIELDS
    }
    initial["calendar_time"] = time(data["hour"], data["minute"], data["second"])
    return initial


def _cron_initial(trigger: BaseTrigger) -> dict[str, Any]:
    assert isinstance(trigger, CronTrigger)  # noqa: S101 - KIND_FORMS pairs them
    if trigger.crontab is not None:
        return {"cron_mode": "crontab", "crontab": trigger.crontab}
    # Every field as the trigger reads it, defaults included, so that saving the fields back
    # builds the same schedule; the days of the week as boxes (mon-fri ticks five of them).
    exprs = trigger.fields
    initial: dict[str, Any] = {"cron_mode": "fields"}
    for name in CRON_FIELDS:
        value = exprs[name]
        if name == "day_of_week":
            initial["cron_day_of_week"] = _weekday_names(value)
        elif name in ("hour", "minute", "second"):
            initial[f"cron_{name}"] = value
        else:
            initial[f"cron_{name}"] = "" if value == "*" else value
    return initial


@dataclass(frozen=True)
class KindForm:
    """How the form edits one kind of trigger (a kind of ``triggers.TRIGGER_KINDS``)."""

    label: StrOrPromise
    fields: tuple[str, ...]  # its own form fields; kind_fields() adds the shared ones
    arguments: dict[str, str]  # the trigger's argument -> the form field that holds it
    build: Callable[[dict[str, Any], ErrorSink, str, dict[str, Any]], BaseTrigger | None]
    initial: Callable[[BaseTrigger], dict[str, Any]]


_CRON_ROWS = tuple(f"cron_{name}" for name in CRON_FIELDS)
# In the order of the "Runs" menu.
KIND_FORMS: dict[str, KindForm] = {
    CronTrigger.kind: KindForm(
        _("Cron: at set times (every weekday at 09:00, ...)"),
        ("cron_mode", "cron_preset", "crontab", *_CRON_ROWS),
        {**{name: f"cron_{name}" for name in CRON_FIELDS}, "crontab": "crontab"},
        _build_cron,
        _cron_initial,
    ),
    IntervalTrigger.kind: KindForm(
        _("Interval: every so many seconds, minutes, hours..."),
        tuple(f"interval_{name}" for name in INTERVAL_FIELDS),
        {name: f"interval_{name}" for name in INTERVAL_FIELDS},
        _build_interval,
        _interval_initial,
    ),
    CalendarIntervalTrigger.kind: KindForm(
        _("Calendar: every N months, weeks or days at a time"),
        (*(f"calendar_{name}" for name in CALENDAR_FIELDS), "calendar_time"),
        {
            **{name: f"calendar_{name}" for name in CALENDAR_FIELDS},
            **dict.fromkeys(("hour", "minute", "second"), "calendar_time"),
        },
        _build_calendar,
        _calendar_initial,
    ),
    DateTrigger.kind: KindForm(
        _("Once: on one date at one time"),
        ("run_date", "run_time"),
        {"run_date": "run_date"},
        _build_date,
        _date_initial,
    ),
}
# A kind the form edits is one of the registry's, not built of others, and each argument the
# form names is one its class takes.
for _kind, _form in KIND_FORMS.items():
    if (
        TRIGGER_KINDS[_kind].composite
        or not set(_form.arguments) <= TRIGGER_KINDS[_kind].dict_fields
    ):
        raise TypeError(f"KIND_FORMS[{_kind!r}] does not fit its trigger class")

EDITABLE_KINDS = [(kind, form.label) for kind, form in KIND_FORMS.items()]


def initial_from_trigger(data: dict[str, Any]) -> dict[str, Any]:
    """Return the form's initial values for a stored trigger (``to_dict()`` form).

    Only the fields of its kind are filled: switching a one-off to an interval starts from
    empty Starts and Ends, not from the old run time.
    """
    try:
        trigger = trigger_from_dict(data)
    except ValueError:
        return {}
    kind = trigger.kind
    if kind not in KIND_FORMS:
        return {}
    initial: dict[str, Any] = {"trigger_kind": kind, "timezone": trigger.timezone.key}
    shared = set(kind_fields(kind))
    if "start_date" in shared:
        initial["start_date"] = _local(trigger, trigger.start_date)
    if "end_date" in shared:
        initial["end_date"] = _local(trigger, trigger.end_date)
    if "jitter" in shared:
        jitter = trigger.jitter
        initial["jitter"] = (
            (int(jitter) if float(jitter).is_integer() else jitter) if jitter else None
        )
    initial.update(KIND_FORMS[kind].initial(trigger))
    return initial


def _weekday_names(value: str) -> list[str]:
    """The boxes to tick for a day_of_week expression (any: none ticked)."""
    days = parse_static("day_of_week", value)
    if len(days) == 7:
        return []
    return [WEEKDAYS[day][0] for day in days]
