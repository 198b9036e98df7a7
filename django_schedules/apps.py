"""The app's configuration: registers the system checks and discovers each app's jobs."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed
from django.utils.translation import gettext_lazy as _


class SchedulesConfig(AppConfig):
    name = "django_schedules"
    verbose_name = _("Schedules")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_schedules import checks, registry

        checks.register()
        # A trigger object built without timezone= gets the project's zone, not UTC.
        _use_project_zone()
        setting_changed.connect(_time_zone_changed, dispatch_uid="django_schedules.time_zone")
        # Import each installed app's jobs.py, so its @job functions are registered.
        registry.autodiscover()


def _use_project_zone() -> None:
    from django_schedules.conf import conf
    from django_schedules.exceptions import TriggerError
    from django_schedules.triggers import set_default_timezone

    try:
        set_default_timezone(conf.TIME_ZONE)
    except TriggerError:
        # A TIME_ZONE zoneinfo does not know is Django's error to report, not ours.
        set_default_timezone(None)


def _time_zone_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "TIME_ZONE":
        _use_project_zone()
