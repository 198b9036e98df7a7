"""The schedule list's actions: pause (at once, or with a reason and an end asked on a page of
its own), resume, run the selected schedules now, and backfill one (a range asked on a page
of its own, previewed before it is confirmed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from django_schedules import api
from django_schedules.backfill import BackfillResult, backfill_job
from django_schedules.exceptions import InvalidSchedule, SchedulesError
from django_schedules.models import Schedule
from django_schedules.options import BY_NAME, check_pause

if TYPE_CHECKING:  # django-stubs' generics; at run time these take no parameters.
    _ScheduleAdmin = admin.ModelAdmin[Schedule]
else:
    _ScheduleAdmin = admin.ModelAdmin


class ScheduleActions(_ScheduleAdmin):
    """The actions of ``ScheduleAdmin`` (and the run permission its buttons check too)."""

    actions = (
        "pause_schedules",
        "pause_schedules_with_reason",
        "resume_schedules",
        "run_schedules_now",
        "backfill_schedule",
    )

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

    @admin.action(description=_("Pause selected schedules with a reason…"), permissions=["change"])
    def pause_schedules_with_reason(
        self, request: HttpRequest, queryset: QuerySet[Schedule]
    ) -> TemplateResponse | None:
        """Ask why and until when, then pause the selected running schedules with that reason:
        every value is checked before the first is paused, so a bad one pauses nothing."""
        running = [s for s in queryset if s.enabled]
        if not running:
            self.message_user(request, _("None of the selected schedules is running."))
            return None
        form = PauseForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_valid():
            reason, until = form.cleaned_data["reason"], form.cleaned_data["until"]
            for schedule in running:
                api.pause_job(schedule.job_id, reason=reason, until=until)
            self.message_user(request, _("Paused %(count)d schedule(s).") % {"count": len(running)})
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Pause schedules"),
            "opts": self.model._meta,
            "schedules": running,
            "form": form,
            "media": self.media + form.media,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/django_schedules/schedule/pause_selected.html", context
        )

    @admin.action(description=_("Resume selected schedules"), permissions=["change"])
    def resume_schedules(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        resumed = [api.resume_job(s.job_id) for s in queryset if not s.enabled]
        count = len(resumed)
        self.message_user(request, _("Resumed %(count)d schedule(s).") % {"count": count})

    @admin.action(description=_("Run selected schedules now"), permissions=["run"])
    def run_schedules_now(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        for schedule in queryset:
            self._run_now(request, schedule)

    @admin.action(description=_("Backfill the selected schedule…"), permissions=["run"])
    def backfill_schedule(
        self, request: HttpRequest, queryset: QuerySet[Schedule]
    ) -> TemplateResponse | None:
        """Ask for a range, show each of its occurrences and what a backfill does with it,
        then backfill on Confirm: a range changed since its preview is previewed again."""
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, _("Select one schedule to backfill."), messages.WARNING)
            return None
        schedule = selected[0]
        # The buttons: "_preview" shows what the range holds, "_confirm" backfills it.
        step = "confirm" if "_confirm" in request.POST else "preview"
        asked = "_confirm" in request.POST or "_preview" in request.POST
        form = BackfillForm(request.POST if asked else None)
        preview: BackfillResult | None = None
        if form.is_valid():
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
            confirmed = step == "confirm" and request.POST.get("previewed") == form.key()
            try:
                result = backfill_job(schedule.job_id, start, end, dry_run=not confirmed)
            except InvalidSchedule as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except SchedulesError as exc:
                form.add_error(None, str(exc))
            else:
                if confirmed:
                    self.message_user(
                        request,
                        _(
                            "%(name)s: backfilled %(count)d occurrence(s): %(new)d new, "
                            "%(rerun)d re-run, %(left)d left alone."
                        )
                        % {
                            "name": schedule,
                            "count": len(result.occurrences),
                            "new": result.created,
                            "rerun": result.retried,
                            "left": result.left_alone,
                        },
                    )
                    return None
                preview = result
        context = {
            **self.admin_site.each_context(request),
            "title": _("Backfill a schedule"),
            "opts": self.model._meta,
            "schedule": schedule,
            "form": form,
            "preview": preview,
            "previewed": form.key() if preview is not None else "",
            "media": self.media + form.media,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/django_schedules/schedule/backfill_selected.html", context
        )

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


class PauseForm(forms.Form):
    """The reason and the end of a pause, checked as ``pause_job`` checks them."""

    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        help_text=_("Why they are paused: shown in the list and on each schedule's page."),
    )
    until = forms.SplitDateTimeField(
        label=_("Paused until"),
        required=False,
        widget=AdminSplitDateTime,
        help_text=_("Empty: until someone resumes them. In your time zone."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            data["reason"] = BY_NAME["pause_reason"].clean(data.get("reason", ""))
            check_pause(False, data["reason"], data.get("until"), timezone.now())
        except InvalidSchedule as exc:
            if exc.field == "paused_until":
                self.add_error("until", _("Give an end later than now, or leave it empty."))
            else:
                self.add_error("reason" if exc.field == "pause_reason" else None, str(exc))
        return data


class BackfillForm(forms.Form):
    """A backfill's range, in the user's time zone; ``backfill_job`` checks it."""

    start = forms.SplitDateTimeField(
        label=_("From"),
        widget=AdminSplitDateTime,
        help_text=_("The first instant, included. In your time zone."),
    )
    end = forms.SplitDateTimeField(
        label=_("Until"),
        widget=AdminSplitDateTime,
        help_text=_("The range stops before this instant, which must not be after now."),
    )

    def key(self) -> str:
        """The range as the preview showed it: Confirm backfills only that range."""
        data = self.cleaned_data
        return f"{data['start'].isoformat()}/{data['end'].isoformat()}"
