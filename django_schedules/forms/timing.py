"""The timing half of the admin's schedule form: a field per trigger argument, for date,
interval, cron and calendar-interval schedules.

Staff never type JSON for the timing: the form shows only the fields of the chosen kind
(``static/django_schedules/schedule_form.js``) and builds the trigger with the trigger classes
themselves, so a schedule that saves is a schedule that fires as shown. Every trigger error
lands on the field it names.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, time
from functools import cache
from typing import TYPE_CHECKING, Any

from django import forms
from django.forms.fields import InvalidJSONInput
from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy as _

from django_schedules.conf import conf
from django_schedules.exceptions import (
    InvalidSchedule,
    TriggerError,
)
from django_schedules.models import TriggerKind
from django_schedules.options import (
    json_safe,
)
from django_schedules.triggers import (
    BaseTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
    DateTrigger,
    IntervalTrigger,
    trigger_from_dict,
)

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    StrOrPromise = str | _StrPromise
    # Where build_trigger reports an error: a form's add_error(field, message).
    ErrorSink = Callable[[str | None, Any], None]


EDITABLE_KINDS = [
    (TriggerKind.CRON.value, _("Cron: at set times (every weekday at 09:00, ...)")),
    (TriggerKind.INTERVAL.value, _("Interval: every so many seconds, minutes, hours...")),
    (TriggerKind.CALENDAR_INTERVAL.value, _("Calendar: every N months, weeks or days at a time")),
    (TriggerKind.DATE.value, _("Once: on one date at one time")),
]

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


@cache
def timezone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


class TimezoneField(forms.CharField):
    """An IANA zone name, typed with completion from a datalist; validated against tzdata."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)
        self.widget.attrs.update({"list": "schedules-timezones", "autocomplete": "off"})

    def clean(self, value: Any) -> str:
        name = str(super().clean(value)).strip()
        if name and name not in zoneinfo.available_timezones():
            raise forms.ValidationError(
                _("Unknown time zone %(value)r: choose an IANA name such as Europe/Berlin."),
                params={"value": name},
                code="invalid_timezone",
            )
        return name


class NamedJSONField(forms.JSONField):
    """A JSON field whose errors quote what was typed; it takes only JSON the database stores.

    JSON can spell what no database keeps (``"\\u0000"``, a lone ``"\\ud800"``, nesting
    deeper than MariaDB allows): refused here, as ``add_job`` refuses it, not at the INSERT.
    """

    def to_python(self, value: Any) -> Any:
        try:
            parsed = super().to_python(value)
        # json.loads raises RecursionError on deep nesting ("[" * 2000), which Django lets through.
        except (forms.ValidationError, RecursionError) as exc:
            raise forms.ValidationError(
                _("%(value)r is not valid JSON."), params={"value": _shorten(value)}, code="invalid"
            ) from exc
        try:
            return json_safe(parsed, "the value")
        except InvalidSchedule as exc:
            raise forms.ValidationError(
                _("%(value)r cannot be stored: %(reason)s"),
                params={"value": _shorten(value), "reason": str(exc)},
                code="invalid",
            ) from exc

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Django shows parsed JSON again re-encoded, which a lone surrogate cannot be (the page
        # would fail to render): what cannot be stored is shown back exactly as typed.
        try:
            value = super().bound_data(data, initial)
        except RecursionError:  # json.loads on deep nesting, as in to_python
            return InvalidJSONInput(data)
        if isinstance(value, InvalidJSONInput):
            return value
        try:
            json_safe(value, "the value")
        except InvalidSchedule:
            return InvalidJSONInput(data)
        return value


def _shorten(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _number(label: StrOrPromise, minimum: int = 0) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=minimum,
        widget=forms.NumberInput(attrs={"min": minimum, "class": "vSmallField"}),
    )


def _cron_text(label: StrOrPromise, help_text: StrOrPromise = "") -> forms.CharField:
    return forms.CharField(label=label, required=False, max_length=100, help_text=help_text)


class TriggerForm(forms.Form):
    """The timing fields alone: what the live preview reads. ``self.trigger`` after cleaning."""

    trigger_kind = forms.ChoiceField(label=_("Runs"), choices=EDITABLE_KINDS, initial="cron")
    timezone = TimezoneField(
        label=_("Time zone"),
        help_text=_("The wall clock the schedule follows (an IANA name, such as Europe/Berlin)."),
    )
    # Date (once)
    run_date = forms.DateField(
        label=_("Date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    run_time = forms.TimeField(
        label=_("Time"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time", "step": 1}, format="%H:%M:%S"),
    )

    # Interval
    interval_weeks = _number(_("Weeks"))
    interval_days = _number(_("Days"))
    interval_hours = _number(_("Hours"))
    interval_minutes = _number(_("Minutes"))
    interval_seconds = _number(_("Seconds"))

    # Cron
    cron_mode = forms.ChoiceField(
        label=_("Cron entry"),
        choices=[("fields", _("Choose the days and times")), ("crontab", _("Type a crontab line"))],
        initial="fields",
        widget=forms.RadioSelect,
        required=False,
    )
    cron_preset = forms.ChoiceField(
        label=_("Preset"),
        required=False,
        choices=[("", _("Choose a preset to fill the fields…"))]
        + [(str(i), label) for i, (label, _values) in enumerate(CRON_PRESETS)],
        help_text=_("Fills the fields below; you can still change them."),
    )
    crontab = forms.CharField(
        label=_("Crontab line"),
        required=False,
        max_length=200,
        help_text=_(
            "Five fields, crontab's meaning: minute hour day-of-month month day-of-week "
            "(0 and 7 are Sunday), or @daily, @hourly, @weekly, @monthly, @yearly."
        ),
    )
    cron_day_of_week = forms.MultipleChoiceField(
        label=_("Days of the week"),
        required=False,
        choices=WEEKDAYS,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every day."),
    )
    cron_hour = _cron_text(
        _("Hour"), _("0-23; * for every hour; 9-17 a range; */2 every second hour; 8,12 a list.")
    )
    cron_minute = _cron_text(_("Minute"), _("0-59, with the same forms."))
    cron_second = _cron_text(_("Second"), _("0-59; empty means 0."))
    cron_day = _cron_text(
        _("Day of the month"), _("1-31, last, or 1st mon ... 5th fri; empty: any.")
    )
    cron_month = _cron_text(_("Month"), _("1-12 or jan-dec; empty: any."))
    cron_year = _cron_text(_("Year"), _("Empty: any."))
    cron_week = _cron_text(_("ISO week"), _("1-53; empty: any."))

    # Calendar interval
    calendar_years = _number(_("Years"))
    calendar_months = _number(_("Months"))
    calendar_weeks = _number(_("Weeks"))
    calendar_days = _number(_("Days"))
    calendar_time = forms.TimeField(
        label=_("At"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time", "step": 1}, format="%H:%M:%S"),
    )

    # Shared by interval, cron and calendar
    start_date = forms.DateTimeField(
        label=_("Starts"),
        required=False,
        help_text=_("In the schedule's time zone. Empty: from now."),
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": 1}, format="%Y-%m-%dT%H:%M:%S"
        ),
    )
    end_date = forms.DateTimeField(
        label=_("Ends"),
        required=False,
        help_text=_("In the schedule's time zone. Empty: never."),
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": 1}, format="%Y-%m-%dT%H:%M:%S"
        ),
    )
    jitter = forms.IntegerField(
        label=_("Jitter (seconds)"),
        required=False,
        min_value=0,
        help_text=_("Start up to this many seconds late, the same delay for every copy."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.trigger: BaseTrigger | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "timezone" not in self.errors:
            self.trigger = build_trigger(cleaned, self.add_error, reject_past_date=False)
        return cleaned


def _field_for_error(kind: str, exc: TriggerError) -> str | None:
    """Map a TriggerError to the form field of the trigger argument it names."""
    names: dict[str, str] = {
        "timezone": "timezone",
        "start_date": "start_date",
        "end_date": "end_date",
        "jitter": "jitter",
    }
    if kind == "cron":
        names.update({name: f"cron_{name}" for name in CRON_FIELDS})
        names["crontab"] = "crontab"
        names["expr"] = "crontab"
    elif kind == "interval":
        names.update({name: f"interval_{name}" for name in INTERVAL_FIELDS})
    elif kind == "calendarinterval":
        names.update({name: f"calendar_{name}" for name in CALENDAR_FIELDS})
        names.update(
            {"hour": "calendar_time", "minute": "calendar_time", "second": "calendar_time"}
        )
    elif kind == "date":
        names["run_date"] = "run_date"
    return None if exc.field is None else names.get(exc.field)


def _aware(value: datetime | None, zone: str) -> datetime | None:
    if value is None:
        return None
    if django_timezone.is_aware(value):
        # The form's DateTimeField made it aware in the current zone; the field is meant in the
        # schedule's own zone, so take the wall-clock reading and place it there.
        value = django_timezone.make_naive(value)
    return value.replace(tzinfo=zoneinfo.ZoneInfo(zone))


def build_trigger(
    cleaned: dict[str, Any], add_error: ErrorSink, *, reject_past_date: bool
) -> BaseTrigger | None:
    """Build the trigger the cleaned values describe; report each error on its own field.

    `add_error(field, message)` receives the form field an error belongs to (None: the form).
    """
    kind = cleaned.get("trigger_kind") or "cron"
    zone = cleaned.get("timezone") or conf.TIME_ZONE
    start = _aware(cleaned.get("start_date"), zone)
    end = _aware(cleaned.get("end_date"), zone)
    jitter = cleaned.get("jitter") or None
    try:
        if kind == "date":
            run_date, run_time = cleaned.get("run_date"), cleaned.get("run_time")
            if run_date is None:
                add_error("run_date", _("Choose the date to run on."))
                return None
            moment = datetime.combine(run_date, run_time or time(0))
            trigger: BaseTrigger = DateTrigger(moment, timezone=zone)
            if reject_past_date:
                fire = trigger.get_next_fire_time(None, datetime.now(UTC))
                if fire is not None and fire < datetime.now(UTC):
                    add_error(
                        "run_date",
                        _("%(value)s is in the past: a one-off schedule must be in the future.")
                        % {"value": f"{moment:%Y-%m-%d %H:%M:%S} {zone}"},
                    )
                    return None
            return trigger
        if kind == "interval":
            values = {name: cleaned.get(f"interval_{name}") or 0 for name in INTERVAL_FIELDS}
            if not any(values.values()):
                add_error("interval_seconds", _("Give an interval greater than zero."))
                return None
            return IntervalTrigger(
                **values, start_date=start, end_date=end, timezone=zone, jitter=jitter
            )
        if kind == "calendarinterval":
            values = {name: cleaned.get(f"calendar_{name}") or 0 for name in CALENDAR_FIELDS}
            if not any(values.values()):
                add_error(
                    "calendar_days",
                    _("Give a number of years, months, weeks or days greater than zero."),
                )
                return None
            at = cleaned.get("calendar_time") or time(0)
            return CalendarIntervalTrigger(
                **values,
                hour=at.hour,
                minute=at.minute,
                second=at.second,
                start_date=start,
                end_date=end,
                timezone=zone,
            )
        if cleaned.get("cron_mode") == "crontab":
            expr = (cleaned.get("crontab") or "").strip()
            if not expr:
                add_error("crontab", _("Type a crontab line, such as 30 9 * * 1-5."))
                return None
            return CronTrigger.from_crontab(
                expr, timezone=zone, start_date=start, end_date=end, jitter=jitter
            )
        days = cleaned.get("cron_day_of_week") or []
        fields: dict[str, Any] = {}
        for name in CRON_FIELDS:
            if name == "day_of_week":
                value: Any = ",".join(days) if days else None
            else:
                value = (cleaned.get(f"cron_{name}") or "").strip() or None
            fields[name] = value
        if fields["second"] is None:
            fields["second"] = "0"
        return CronTrigger(**fields, start_date=start, end_date=end, timezone=zone, jitter=jitter)
    except TriggerError as exc:
        add_error(_field_for_error(kind, exc), str(exc))
        return None


def initial_from_trigger(data: dict[str, Any]) -> dict[str, Any]:
    """Return the form's initial values for a stored trigger (``to_dict()`` form)."""
    try:
        trigger = trigger_from_dict(data)
    except ValueError:
        return {}
    initial: dict[str, Any] = {"trigger_kind": data.get("kind"), "timezone": trigger.timezone.key}
    zone = trigger.timezone

    def local(value: datetime | None) -> datetime | None:
        return value.astimezone(zone).replace(tzinfo=None) if value else None

    initial["start_date"] = local(getattr(trigger, "start_date", None))
    initial["end_date"] = local(getattr(trigger, "end_date", None))
    jitter = getattr(trigger, "jitter", None)
    initial["jitter"] = int(jitter) if jitter else None
    kind = data.get("kind")
    if kind == "date":
        moment = local(getattr(trigger, "run_date", None))
        if moment:
            initial.update(run_date=moment.date(), run_time=moment.time())
    elif kind == "interval":
        for name in INTERVAL_FIELDS:
            initial[f"interval_{name}"] = data.get(name) or None
    elif kind == "calendarinterval":
        for name in CALENDAR_FIELDS:
            initial[f"calendar_{name}"] = data.get(name) or None
        initial["calendar_time"] = time(
            data.get("hour", 0), data.get("minute", 0), data.get("second", 0)
        )
    elif kind == "cron":
        if data.get("crontab"):
            initial.update(cron_mode="crontab", crontab=data["crontab"])
        else:
            initial["cron_mode"] = "fields"
            for name in CRON_FIELDS:
                value = data.get(name)
                if name == "day_of_week":
                    initial["cron_day_of_week"] = _weekday_names(value)
                else:
                    initial[f"cron_{name}"] = "" if value in (None, "*") else str(value)
    return initial


def _weekday_names(value: Any) -> list[str]:
    if value in (None, "*", ""):
        return []
    names = [day for day, _label in WEEKDAYS]
    text = str(value).lower()
    if all(part in names for part in text.split(",")):
        return text.split(",")
    return []
