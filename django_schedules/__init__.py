"""django-schedules: scheduled jobs for Django.

The public API is exported lazily (PEP 562), so ``import django_schedules.triggers`` imports
neither Django's models nor settings.
"""

from __future__ import annotations

from typing import Any

from django_schedules.__about__ import __version__

__all__ = ["__version__"]

# name -> module that defines it; filled in as the API grows.
_LAZY: dict[str, str] = {
    # registry
    "job": "django_schedules.registry",
    "JobContext": "django_schedules.registry",
    "RegisteredJob": "django_schedules.registry",
    "get_registered": "django_schedules.registry",
    "registered_jobs": "django_schedules.registry",
    # the API (APScheduler 3's scheduler methods)
    "add_job": "django_schedules.api",
    "get_job": "django_schedules.api",
    "get_jobs": "django_schedules.api",
    "modify_job": "django_schedules.api",
    "reschedule_job": "django_schedules.api",
    "pause_job": "django_schedules.api",
    "resume_job": "django_schedules.api",
    "remove_job": "django_schedules.api",
    "run_job_now": "django_schedules.api",
    "print_jobs": "django_schedules.api",
    "backfill_job": "django_schedules.backfill",
    "BackfillResult": "django_schedules.backfill",
    "sync_schedules": "django_schedules.sync",
    # exclusion calendars
    "add_calendar": "django_schedules.api_calendars",
    "get_calendar": "django_schedules.api_calendars",
    "remove_calendar": "django_schedules.api_calendars",
    "import_calendar_ics": "django_schedules.api_calendars",
    # APScheduler 3's scheduler objects
    "BlockingScheduler": "django_schedules.schedulers",
    "BackgroundScheduler": "django_schedules.schedulers",
    "AsyncIOScheduler": "django_schedules.schedulers",
    "TornadoScheduler": "django_schedules.schedulers",
    "GeventScheduler": "django_schedules.schedulers",
    "TwistedScheduler": "django_schedules.schedulers",
    "QtScheduler": "django_schedules.schedulers",
    # exceptions
    "SchedulesError": "django_schedules.exceptions",
    "TriggerError": "django_schedules.exceptions",
    "ScheduleNotFound": "django_schedules.exceptions",
    "JobNotRegistered": "django_schedules.exceptions",
    "JobAlreadyRegistered": "django_schedules.exceptions",
    "ScheduleExists": "django_schedules.exceptions",
    "InvalidSchedule": "django_schedules.exceptions",
    "ConflictingIdError": "django_schedules.exceptions",
    "JobLookupError": "django_schedules.exceptions",
    "SchedulerConfigError": "django_schedules.exceptions",
    "SchedulerAlreadyRunningError": "django_schedules.exceptions",
    "SchedulerNotRunningError": "django_schedules.exceptions",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'django_schedules' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*__all__, *_LAZY])
