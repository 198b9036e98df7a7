"""The admin's forms: ``ScheduleForm`` (a schedule), ``TriggerForm`` (its timing alone, which
the live preview reads) and ``KIND_FORMS`` (how each kind of trigger is edited)."""

from __future__ import annotations

from django_schedules.forms.kinds import (
    CALENDAR_FIELDS,
    CRON_FIELDS,
    CRON_PRESETS,
    EDITABLE_KINDS,
    INTERVAL_FIELDS,
    KIND_FORMS,
    WEEKDAYS,
    build_trigger,
    initial_from_trigger,
    kind_fields,
    trigger_message,
)
from django_schedules.forms.schedule import API_OPTIONS, ScheduleForm, signature_error
from django_schedules.forms.timing import NamedJSONField, TimezoneField, TriggerForm, timezone_names

__all__ = [
    "API_OPTIONS",
    "CALENDAR_FIELDS",
    "CRON_FIELDS",
    "CRON_PRESETS",
    "EDITABLE_KINDS",
    "INTERVAL_FIELDS",
    "KIND_FORMS",
    "WEEKDAYS",
    "NamedJSONField",
    "ScheduleForm",
    "TimezoneField",
    "TriggerForm",
    "build_trigger",
    "initial_from_trigger",
    "kind_fields",
    "signature_error",
    "timezone_names",
    "trigger_message",
]
