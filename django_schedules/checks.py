"""System checks. Each problem has its own id, documented in docs/checks.md under that id."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, register as register_check

from django_schedules.conf import conf

DOCS = "https://github.com/django-schedules/django-schedules/blob/main/docs/checks.md"


def _error(check_id: str, msg: str, hint: str) -> Error:
    """Build an Error whose hint links to the id's own section of docs/checks.md."""
    anchor = check_id.lower().replace(".", "")
    return Error(msg, hint=f"{hint} See {DOCS}#{anchor}", id=check_id)


def _positive_number(value: object) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and value > 0
    )


def check_settings(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """Validate the SCHEDULES_* settings and the settings the app relies on."""
    errors: list[CheckMessage] = []
    if not conf.USE_TZ:
        errors.append(
            _error(
                "django_schedules.E001",
                "django-schedules requires USE_TZ = True: schedules are stored as aware UTC "
                "datetimes and fire at instants, not at wall-clock readings.",
                "Set USE_TZ = True in your settings.",
            )
        )
    for setting, check_id in (
        ("SCHEDULES_POLL_INTERVAL", "django_schedules.E002"),
        ("SCHEDULES_LEASE_TTL", "django_schedules.E003"),
    ):
        value = getattr(conf, setting)
        if not _positive_number(value):
            errors.append(
                _error(
                    check_id,
                    f"{setting} must be a finite number of seconds greater than zero, "
                    f"got {value!r}.",
                    "Give it in seconds, such as 0.5, or remove it.",
                )
            )
    grace = conf.SCHEDULES_SHUTDOWN_GRACE
    if isinstance(grace, bool) or not isinstance(grace, int | float) or not grace >= 0:
        errors.append(
            _error(
                "django_schedules.E004",
                "SCHEDULES_SHUTDOWN_GRACE must be a number of seconds, zero or more, "
                f"got {grace!r}.",
                "Give it in seconds, such as 30, or remove it.",
            )
        )
    chars = conf.SCHEDULES_RESULT_MAX_CHARS
    if isinstance(chars, bool) or not isinstance(chars, int) or chars < 0:
        errors.append(
            _error(
                "django_schedules.E005",
                "SCHEDULES_RESULT_MAX_CHARS must be a whole number, zero or more, "
                f"got {chars!r}.",
                "Give a number of characters, such as 2000.",
            )
        )
    keep = conf.SCHEDULES_KEEP_EXECUTIONS
    if keep is not None and not (isinstance(keep, timedelta) and keep > timedelta(0)):
        errors.append(
            _error(
                "django_schedules.E006",
                "SCHEDULES_KEEP_EXECUTIONS must be a timedelta greater than zero, or None to "
                f"keep every execution, got {keep!r}.",
                "Such as timedelta(days=30).",
            )
        )
    return errors


def register() -> None:
    """Register the checks; called from ``SchedulesConfig.ready()``."""
    register_check(check_settings)
