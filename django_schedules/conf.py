"""The one module that reads settings.

Each ``SCHEDULES_*`` setting is a property that reads Django's settings afresh, so
``override_settings`` just works. Validation lives in ``checks.py``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

DEFAULT_EXECUTORS: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "threadpool", "OPTIONS": {"max_workers": 10}},
}

# The values SCHEDULES_SQLITE_SYNCHRONOUS may take: SQLite's durable ``synchronous`` levels.
SQLITE_SYNCHRONOUS = ("NORMAL", "FULL", "EXTRA")


class Settings:
    @property
    def USE_TZ(self) -> bool:
        return bool(getattr(settings, "USE_TZ", False))

    @property
    def TIME_ZONE(self) -> str:
        return str(getattr(settings, "TIME_ZONE", None) or "UTC")

    @property
    def DATABASES(self) -> dict[str, dict[str, Any]]:
        return getattr(settings, "DATABASES", {})

    @property
    def SCHEDULES_DATABASE(self) -> str:
        return getattr(settings, "SCHEDULES_DATABASE", "default")

    @property
    def SCHEDULES_POLL_INTERVAL(self) -> float:
        return getattr(settings, "SCHEDULES_POLL_INTERVAL", 0.5)

    @property
    def SCHEDULES_LEASE_TTL(self) -> float:
        return getattr(settings, "SCHEDULES_LEASE_TTL", 15.0)

    @property
    def SCHEDULES_SHUTDOWN_GRACE(self) -> float:
        return getattr(settings, "SCHEDULES_SHUTDOWN_GRACE", 30.0)

    @property
    def SCHEDULES_RESULT_MAX_CHARS(self) -> int:
        return getattr(settings, "SCHEDULES_RESULT_MAX_CHARS", 2000)

    @property
    def SCHEDULES_KEEP_EXECUTIONS(self) -> timedelta | None:
        return getattr(settings, "SCHEDULES_KEEP_EXECUTIONS", timedelta(days=30))

    @property
    def SCHEDULES_SQLITE_SYNCHRONOUS(self) -> str:
        return getattr(settings, "SCHEDULES_SQLITE_SYNCHRONOUS", "NORMAL")

    @property
    def SCHEDULES_HEALTH_MAX_LAG(self) -> float:
        return getattr(settings, "SCHEDULES_HEALTH_MAX_LAG", 60.0)

    @property
    def SCHEDULES_METRICS_TOKEN(self) -> str | None:
        return getattr(settings, "SCHEDULES_METRICS_TOKEN", None)

    @property
    def SCHEDULES_METRICS_PUBLIC(self) -> bool:
        return getattr(settings, "SCHEDULES_METRICS_PUBLIC", False)

    @property
    def SCHEDULES_MAX_CATCH_UP(self) -> int:
        return getattr(settings, "SCHEDULES_MAX_CATCH_UP", 100)

    @property
    def SCHEDULES_EXECUTORS(self) -> dict[str, dict[str, Any]]:
        return getattr(settings, "SCHEDULES_EXECUTORS", DEFAULT_EXECUTORS)

    @property
    def SCHEDULES_JOBS(self) -> dict[str, dict[str, Any]]:
        return getattr(settings, "SCHEDULES_JOBS", {})


conf = Settings()
