"""The app's configuration: registers the system checks and discovers each app's jobs."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulesConfig(AppConfig):
    name = "django_schedules"
    verbose_name = _("Schedules")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_schedules import checks, registry

        checks.register()
        # Import each installed app's jobs.py, so its @job functions are registered.
        registry.autodiscover()
