"""The timing half of the admin's schedule form: a field per trigger argument, for date,
interval, cron and calendar-interval schedules.

Staff never type JSON for the timing: the form shows only the fields of the chosen kind
(``static/django_schedules/schedule_form.js``) and builds the trigger with the trigger classes
themselves, so a schedule that saves is a schedule that fires as shown. Every trigger error
lands on the field it names.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time
from functools import cache
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin.widgets import AdminDateWidget, AdminSplitDateTime, AdminTimeWidget
from django.forms.fields import InvalidJSONInput
from django.utils.translation import gettext_lazy as _

from django_schedules.exceptions import InvalidSchedule
from django_schedules.forms.kinds import (
    CRON_PRESETS,
    EDITABLE_KINDS,
    KIND_FORMS,
    WEEKDAYS,
    build_trigger,
    kind_fields,
)
from django_schedules.options import json_safe
from django_schedules.triggers import BaseTrigger

if TYPE_CHECKING:
    from django_schedules.forms.kinds import StrOrPromise


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


class PreciseTimeWidget(AdminTimeWidget):
    """The admin's time input (with its clock), down to the second; a fraction of a second,
    which the admin's format cuts, is shown whole rather than lost."""

    supports_microseconds = True

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, time | datetime) and value.microsecond:
            return value.strftime("%H:%M:%S.%f")
        return super().format_value(value)


class WallClockWidget(AdminSplitDateTime):
    """The admin's date and time inputs; a single ISO 8601 value under the field's own name
    (a script's POST) is read too."""

    supports_microseconds = True

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.widgets = (AdminDateWidget(), PreciseTimeWidget())

    def decompress(self, value: Any) -> tuple[date | None, time | None]:
        if isinstance(value, datetime):
            return value.date(), value.time()
        return None, None

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if name in data and f"{name}_0" not in data:
            text = str(data[name]).strip().replace("T", " ", 1)
            day, _sep, clock = text.partition(" ")
            return [day, clock]
        return super().value_from_datadict(data, files, name)


class WallClockField(forms.SplitDateTimeField):
    """A date and time on the schedule's own wall clock: naive, never read in the viewer's
    zone (a time in the viewer's daylight-saving gap is no error here). An empty time is
    midnight."""

    widget = WallClockWidget

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("require_all_fields", False)
        super().__init__(**kwargs)
        # Two inputs under one label: each says which half of the field it is.
        day, clock = self.widget.widgets
        day.attrs["aria-label"] = _("%(label)s: date") % {"label": self.label}
        clock.attrs["aria-label"] = _("%(label)s: time") % {"label": self.label}

    def compress(self, data_list: Any) -> datetime | None:
        if not data_list or data_list[0] in self.empty_values:
            if data_list and data_list[1] not in self.empty_values:
                raise forms.ValidationError(
                    self.error_messages["invalid_date"], code="invalid_date"
                )
            return None
        return datetime.combine(data_list[0], data_list[1] or time(0))


class AmountField(forms.FloatField):
    """A number of time units, whole or not (an interval of 1.5 seconds), shown as typed:
    a whole amount without its ".0"."""

    def to_python(self, value: Any) -> int | float | None:  # type: ignore[override]
        number = super().to_python(value)
        return int(number) if number is not None and number.is_integer() else number


def _amount(label: StrOrPromise) -> AmountField:
    return AmountField(
        label=label,
        required=False,
        min_value=0,
        widget=forms.NumberInput(attrs={"min": 0, "step": "any", "class": "vSmallField"}),
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
    run_date = forms.DateField(label=_("Date"), required=False, widget=AdminDateWidget)
    run_time = forms.TimeField(
        label=_("Time"),
        required=False,
        widget=PreciseTimeWidget,
    )

    # Interval
    interval_weeks = _amount(_("Weeks"))
    interval_days = _amount(_("Days"))
    interval_hours = _amount(_("Hours"))
    interval_minutes = _amount(_("Minutes"))
    interval_seconds = _amount(_("Seconds"))

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
        widget=PreciseTimeWidget,
    )

    # Shared by interval, cron and calendar
    start_date = WallClockField(
        label=_("Starts"),
        help_text=_("In the schedule's time zone. Empty: from now."),
    )
    end_date = WallClockField(
        label=_("Ends"),
        help_text=_("In the schedule's time zone. Empty: never."),
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
        if not self.timing_field_errors(cleaned):
            self.trigger = build_trigger(cleaned, self.add_error, reject_past_date=False)
        return cleaned

    def timing_field_errors(self, cleaned: dict[str, Any]) -> bool:
        """Whether a field of the chosen kind already has its error (a number below zero):
        then no trigger is built, so no second error says the same about a missing value."""
        kind = cleaned.get("trigger_kind") or "cron"
        names = {"timezone", *(kind_fields(kind) if kind in KIND_FORMS else ())}
        return bool(names & set(self.errors))
