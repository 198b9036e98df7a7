"""The schedule list's actions: pause, resume and run the selected schedules now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from django_schedules import api
from django_schedules.exceptions import SchedulesError
from django_schedules.models import Schedule

if TYPE_CHECKING:  # django-stubs' generics; at run time these take no parameters.
    _ScheduleAdmin = admin.ModelAdmin[Schedule]
else:
    _ScheduleAdmin = admin.ModelAdmin


class ScheduleActions(_ScheduleAdmin):
    """The actions of ``ScheduleAdmin`` (and the run permission its buttons check too)."""

    def has_run_permission(self, request: HttpRequest, obj: Schedule | None = None) -> bool:
        user: Any = request.user
        return bool(
            self.has_change_permission(request, obj)
            and user.has_perm("django_schedules.run_schedule")
        )

    @admin.action(description=_("Pause selected schedules"), permissions=["change"])
    def pause_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        paused = [api.pause_job(s.job_id) for s in queryset if s.enabled]
        count = len(paused)
        self.message_user(request, _("Paused %(count)d schedule(s).") % {"count": count})

    @admin.action(description=_("Resume selected schedules"), permissions=["change"])
    def resume_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        resumed = [api.resume_job(s.job_id) for s in queryset if not s.enabled]
        count = len(resumed)
        self.message_user(request, _("Resumed %(count)d schedule(s).") % {"count": count})

    @admin.action(description=_("Run selected schedules now"), permissions=["run"])
    def run_schedules_now(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        for schedule in queryset:
            self._run_now(request, schedule)

    def _run_now(self, request: HttpRequest, schedule: Schedule) -> None:
        try:
            execution = api.run_job_now(schedule.job_id)
        except SchedulesError as exc:
            self.message_user(
                request, _("%(name)s: %(error)s") % {"name": schedule, "error": exc}, messages.ERROR
            )
            return
        url = reverse("admin:django_schedules_execution_change", args=[execution.pk])
        self.message_user(
            request,
            format_html(
                '{} <a href="{}">{}</a>',
                _("%(name)s will run now.") % {"name": schedule},
                url,
                _("See its execution."),
            ),
        )
