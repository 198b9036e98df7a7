"""The admin's forms: ``ScheduleForm`` (a schedule) and ``TriggerForm`` (its timing alone, which
the live preview reads)."""

from __future__ import annotations

from django_schedules.forms.schedule import API_OPTIONS, ScheduleForm, signature_error
from django_schedules.forms.timing import (
    CALENDAR_FIELDS,
    CRON_FIELDS,
    CRON_PRESETS,
    EDITABLE_KINDS,
    INTERVAL_FIELDS,
    WEEKDAYS,
    NamedJSONField,
    TimezoneField,
    TriggerForm,
    build_trigger,
    initial_from_trigger,
    timezone_names,
)

__all__ = [
    "API_OPTIONS",
    "CALENDAR_FIELDS",
    "CRON_FIELDS",
    "CRON_PRESETS",
    "EDITABLE_KINDS",
    "INTERVAL_FIELDS",
    "WEEKDAYS",
    "NamedJSONField",
    "ScheduleForm",
    "TimezoneField",
    "TriggerForm",
    "build_trigger",
    "initial_from_trigger",
    "signature_error",
    "timezone_names",
]
