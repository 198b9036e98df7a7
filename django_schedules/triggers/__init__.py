"""Triggers: pure time math. Imports nothing from Django and never reads the clock.

See docs/triggers.md for the rules (daylight saving, jitter, APScheduler compatibility).
"""

from __future__ import annotations

# isort: off
# Importing a kind registers it; this order is the order of `trigger_kinds()` and of the
# "known kinds are ..." message.
from django_schedules.triggers.date import DateTrigger
from django_schedules.triggers.interval import IntervalTrigger
from django_schedules.triggers.cron import CronTrigger
from django_schedules.triggers.calendarinterval import CalendarIntervalTrigger
from django_schedules.triggers.combining import AndTrigger, OrTrigger

# isort: on
from django_schedules.triggers._common import get_default_timezone, set_default_timezone
from django_schedules.triggers.base import (
    TRIGGER_KINDS,
    BaseTrigger,
    trigger_class,
    trigger_from_dict,
    trigger_kinds,
)
from django_schedules.triggers.describe import describe_dst

__all__ = [
    "TRIGGER_KINDS",
    "AndTrigger",
    "BaseTrigger",
    "CalendarIntervalTrigger",
    "CronTrigger",
    "DateTrigger",
    "IntervalTrigger",
    "OrTrigger",
    "describe_dst",
    "get_default_timezone",
    "set_default_timezone",
    "trigger_class",
    "trigger_from_dict",
    "trigger_kinds",
]
