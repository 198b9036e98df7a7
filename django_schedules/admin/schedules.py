"""The schedules' admin: staff create, edit, preview, pause, resume and run schedules."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from django_schedules import api, store
from django_schedules.calendars import names_in
from django_schedules.exceptions import ScheduleNotFound
from django_schedules.forms import (
    CRON_PRESETS,
    KIND_FORMS,
    ScheduleForm,
    TriggerForm,
    kind_fields,
    timezone_names,
)
from django_schedules.models import (
    Execution,
    ExecutionStatus,
    Schedule,
    ScheduleSource,
)
from django_schedules.options import BY_NAME, OPTIONS
from django_schedules.registry import registered_jobs
from django_schedules.status import check_health
from django_schedules.triggers import BaseTrigger, trigger_from_dict

if TYPE_CHECKING:  # django-stubs' generics; at run time these take no parameters.
    from django_schedules.forms.kinds import StrOrPromise

    _ScheduleAdmin = admin.ModelAdmin[Schedule]
else:
    _ScheduleAdmin = admin.ModelAdmin
from django_schedules.admin import charts
from django_schedules.admin.actions import ScheduleActions
from django_schedules.admin.display import (
    PREVIEW_COUNT,
    RECENT_EXECUTIONS,
    EstimatedCountPaginator,
    SchedulesMedia,
    describe_stored,
    dotted,
    duration_text,
    failing_panel,
    moment,
    paused_text,
    preview,
    scheduler_panel,
    status_badge,
    upcoming_table,
    when,
)


class LastOutcomeFilter(admin.SimpleListFilter):
    title = _("last outcome")
    parameter_name = "last_outcome"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in ExecutionStatus.choices] + [
            ("never", str(_("Never ran")))
        ]

    def get_facet_queryset(self, changelist: Any) -> dict[str, int]:
        """No counts beside this filter's choices (Django's "Show counts"): each would look up
        the last execution of every schedule, 3 s at 100,000 schedules."""
        return {}

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "never":
            # An anti-join on the executions' schedule index: the same rows as
            # last_status IS NULL, without running the per-row subquery 100,000 times.
            return queryset.filter(~Exists(Execution.objects.filter(schedule=OuterRef("pk"))))
        if value in ExecutionStatus.values:
            return queryset.filter(last_status=value)
        return queryset


class JobFilter(admin.SimpleListFilter):
    """The schedules of one registered job. The choices come from the registry, not from a
    DISTINCT over the table: no query, however many schedules there are."""

    title = _("job")
    parameter_name = "func"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(job.name, job.name) for job in registered_jobs()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(func=value) if value else queryset

    def get_facet_counts(self, pk_attname: str, filtered_qs: QuerySet[Any]) -> dict[str, Count]:
        return {
            f"{i}__c": Count(pk_attname, filter=Q(func=value))
            for i, (value, _label) in enumerate(self.lookup_choices)
        }


class SourceFilter(admin.SimpleListFilter):
    title = _("declared in")
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in ScheduleSource.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(source=value) if value in ScheduleSource.values else queryset

    def get_facet_counts(self, pk_attname: str, filtered_qs: QuerySet[Any]) -> dict[str, Count]:
        """Counts on the column itself: Django's default for a SimpleListFilter counts
        ``pk IN (SELECT ...)`` per choice, 0.35 s at 100,000 schedules."""
        return {
            f"{i}__c": Count(pk_attname, filter=Q(source=value))
            for i, (value, _label) in enumerate(self.lookup_choices)
        }


@admin.register(Schedule)
class ScheduleAdmin(ScheduleActions):
    form = ScheduleForm
    Media = SchedulesMedia
    list_display = (
        "display_name",
        "job",
        "description",
        "next_run",
        "last_run",
        "enabled",
        "source_label",
    )
    list_filter = ("enabled", "trigger_kind", JobFilter, LastOutcomeFilter, SourceFilter)
    # By the column shown first; the job id tells apart schedules of one name.
    ordering = ("name", "job_id")
    search_fields = ("name", "job_id")
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over a table of 100,000 on every page
    paginator = EstimatedCountPaginator
    change_form_template = "admin/django_schedules/schedule/change_form.html"
    change_list_template = "admin/django_schedules/schedule/change_list.html"

    what_fields = (
        "job_id",
        "name",
        "func",
        "args",
        "kwargs",
        "enabled",
        "pause_reason",
        "paused_until",
    )
    timing_fields = (
        "trigger_kind",
        "timezone",
        ("run_date", "run_time"),
        (
            "interval_weeks",
            "interval_days",
            "interval_hours",
            "interval_minutes",
            "interval_seconds",
        ),
        "cron_mode",
        "cron_preset",
        "crontab",
        "cron_day_of_week",
        ("cron_hour", "cron_minute", "cron_second"),
        ("cron_day", "cron_month", "cron_year", "cron_week"),
        ("calendar_years", "calendar_months", "calendar_weeks", "calendar_days"),
        "calendar_time",
        ("start_date", "end_date"),
        "jitter",
        "calendars",
    )
    failure_fields = (
        "misfire_policy",
        "misfire_grace_time",
        "max_instances",
        "overlap",
        "max_runs",
        "pause_after_failures",
        "timeout",
        ("max_retries", "retry_delay"),
        "rerun_lost",
        ("executor", "queue", "priority"),
    )

    # -- pages ------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Schedule]:
        # Ordered by fire time alone: (schedule, fire_time) is unique, so the unique index read
        # backwards answers it without a sort, once per row shown.
        last = Execution.objects.filter(schedule=OuterRef("pk")).order_by("-fire_time")
        return (
            super()
            .get_queryset(request)
            .using(store.database_alias())
            .annotate(
                last_status=Subquery(last.values("status")[:1]),
                last_fire_time=Subquery(last.values("fire_time")[:1]),
                **charts.earlier_outcomes(last),  # the sparkline's
            )
        )

    def get_fieldsets(self, request: HttpRequest, obj: Schedule | None = None) -> Any:
        what_fields = list(self.what_fields)
        if not self.has_change_permission(request, obj) and (obj is None or obj.enabled):
            # A viewer sees a pause's reason and end only when there is a pause.
            what_fields = [f for f in what_fields if f not in ("pause_reason", "paused_until")]
        what = (None, {"fields": what_fields})
        failures = (
            _("When things go wrong"),
            {
                "classes": ["collapse"],
                "fields": list(self.failure_fields),
                "description": _(
                    "What happens when a run starts late, overlaps, hangs or fails. "
                    "The defaults suit most jobs."
                ),
            },
        )
        if self.timing_editable(request, obj):
            timing: tuple[Any, dict[str, Any]] = (
                _("When it runs"),
                {"fields": list(self.timing_fields)},
            )
        else:
            timing = (
                _("When it runs"),
                {
                    "fields": ["description", "upcoming"],
                    "description": self.timing_note(obj, self.has_change_permission(request, obj)),
                },
            )
        status = (
            _("Status"),
            {
                "fields": [
                    "source_label",
                    "next_run",
                    "runs_started",
                    ("overlaps_skipped", "overlaps_buffered"),
                    "last_error",
                    "recent_executions",
                ]
            },
        )
        return [what, timing, failures] + ([status] if obj is not None else [])

    def get_readonly_fields(self, request: HttpRequest, obj: Schedule | None = None) -> Any:
        return [
            "source_label",
            "next_run",
            "runs_started",
            "overlaps_skipped",
            "overlaps_buffered",
            "last_error",
            "recent_executions",
            "description",
            "upcoming",
        ]

    def timing_editable(self, request: HttpRequest, obj: Schedule | None) -> bool:
        """Whether this page edits the timing: not for AND/OR, not for timing declared in code
        or settings, not for a viewer without the change permission (all shown as text)."""
        if obj is None:
            return True
        return ScheduleForm.edits_timing_of(obj) and self.has_change_permission(request, obj)

    @staticmethod
    def timing_note(obj: Schedule | None, can_change: bool) -> StrOrPromise:
        if obj is not None and obj.combines_triggers:
            return _("A combined schedule made in code: shown here, changed in code.")
        if obj is not None and obj.source != ScheduleSource.ADMIN:
            note = _(
                "Declared in %(source)s: its timing is changed there (the next sync would "
                "undo a change here)."
            ) % {"source": obj.get_source_display().lower()}
            if can_change:
                note += " " + str(_("Its name and the settings below can be changed here."))
            return note
        return ""

    def get_form(
        self, request: HttpRequest, obj: Schedule | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None and not self.timing_editable(request, obj):
            # Only the fields shown: the timing is text on this page.
            kwargs["fields"] = list(self.what_fields)
            kwargs["fields"] += [f for f in self.failure_fields if isinstance(f, str)]
            kwargs["fields"] += ["max_retries", "retry_delay", "executor", "queue", "priority"]
        return super().get_form(request, obj, change, **kwargs)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Schedule | None = None,
    ) -> HttpResponse:
        context.update(
            {
                "timezone_names": timezone_names(),
                "cron_presets": [
                    {"label": label, "values": values} for label, values in CRON_PRESETS
                ],
                "preview_url": reverse("admin:django_schedules_schedule_preview"),
                "kind_fields": {
                    "kinds": {kind: kind_fields(kind) for kind in KIND_FORMS},
                    "common": ["trigger_kind", "timezone", "calendars"],
                },
                "viewer_zone": timezone.get_current_timezone_name(),
                "has_run_permission": self.has_run_permission(request),
            }
        )
        if obj is not None and obj.pk is not None:  # its runs: one aggregate query
            context["run_charts"] = charts.for_page(obj.pk, store.database_alias())
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        panels = [scheduler_panel(check_health(group)) for group in store.scheduler_groups()]
        failing = failing_panel(*store.paused_after_failures(5, store.database_alias()))
        return super().changelist_view(
            request, {**(extra_context or {}), "scheduler_panels": panels, "failing": failing}
        )

    # -- saving -----------------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Schedule, form: Any, change: bool) -> None:
        """Save through the API: full validation, next_run_at computed, the scheduler woken."""
        trigger: BaseTrigger | None = getattr(form, "trigger", None)
        # Every option the form edits, by its API name (the job id is the row's key).
        values = {
            option.name: getattr(obj, option.column)
            for option in OPTIONS
            if option.form and option.column and option.name != "id"
        }
        if change:
            # Only what the form changed: untouched timing (None) keeps the trigger, next run too.
            changed = set(form.changed_data)
            values = {
                name: value for name, value in values.items() if BY_NAME[name].column in changed
            }
            if trigger is not None:
                values["trigger"] = trigger
            saved = api.modify_job(obj.job_id, **values)  # one transaction, enabled included
        else:
            saved = api.add_job(
                trigger=trigger, id=obj.job_id, source=ScheduleSource.ADMIN, **values
            )
        obj.pk = saved.pk
        obj.refresh_from_db(using=store.database_alias())

    def delete_model(self, request: HttpRequest, obj: Schedule) -> None:
        api.remove_job(obj.job_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Schedule]) -> None:
        # "Delete selected": each through remove_job, as one delete is (runs not yet started
        # are skipped, the scheduler is told).
        for job_id in queryset.values_list("job_id", flat=True):
            with contextlib.suppress(ScheduleNotFound):  # removed meanwhile
                api.remove_job(job_id)

    # -- change list columns -------------------------------------------------------------------

    @admin.display(description=_("job"), ordering="func")
    def job(self, obj: Schedule) -> SafeString:
        return dotted(obj.func)

    @admin.display(description=_("name"), ordering="name")
    def display_name(self, obj: Schedule) -> SafeString | str:
        """The name, and the job id beneath it when they differ (two schedules of one job
        share its name by default)."""
        if not obj.name or obj.name == obj.job_id:
            return obj.job_id
        return format_html('{}<span class="schedules-job-id">{}</span>', obj.name, obj.job_id)

    @admin.display(description=_("when"))
    def description(self, obj: Schedule) -> str:
        return describe_stored(obj)

    @admin.display(description=_("next fire times"))
    def upcoming(self, obj: Schedule) -> SafeString | str:
        """The next fire times in the schedule's zone and the viewer's, as the preview lists."""
        try:
            trigger = trigger_from_dict(obj.trigger)
        except (ValueError, TypeError, KeyError):
            return "—"
        named = store.calendars_by_name(names_in(obj.calendars), store.database_alias())
        return upcoming_table(trigger, list(named.values()))

    @admin.display(description=_("next run"), ordering="next_run_at")
    def next_run(self, obj: Schedule) -> str:
        if not obj.enabled:
            return paused_text(obj)
        if obj.next_run_at is None:
            return str(_("finished"))
        return when(obj.next_run_at)

    @admin.display(description=_("last outcome"))
    def last_outcome(self, obj: Schedule) -> SafeString | str:
        return status_badge(getattr(obj, "last_status", None))

    @admin.display(description=_("last run"))
    def last_run(self, obj: Schedule) -> SafeString | str:
        """The latest execution's outcome and fire time, and a sparkline of the last ten
        ("—" when it never ran)."""
        status = getattr(obj, "last_status", None)
        if not status:
            return "—"
        return format_html(
            '{}<br><span class="schedules-when">{}</span><br>{}',
            status_badge(status),
            when(getattr(obj, "last_fire_time", None)),
            charts.sparkline([status, *charts.recent_outcomes(obj)]),
        )

    @admin.display(description=_("declared in"), ordering="source")
    def source_label(self, obj: Schedule) -> str:
        if obj.source == ScheduleSource.ADMIN:
            return str(_("Admin"))
        if obj.group:  # which scheduler group's remove_all_jobs() removes it
            return str(
                _("%(source)s, group %(group)s (timing locked)")
                % {"source": obj.get_source_display(), "group": obj.group}
            )
        return str(_("%(source)s (timing locked)") % {"source": obj.get_source_display()})

    @admin.display(description=_("last 10 executions"))
    def recent_executions(self, obj: Schedule) -> SafeString | str:
        if not obj.pk:
            return "—"
        rows = (
            Execution.objects.using(store.database_alias())
            .filter(schedule=obj)
            .order_by("-fire_time", "-id")[:RECENT_EXECUTIONS]
        )
        body = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:django_schedules_execution_change", args=[e.pk]),
                    moment(e.fire_time),
                    e.get_kind_display(),
                    status_badge(e.status),
                    e.reason or "",
                    duration_text(e.duration),
                )
                for e in rows
            ),
        )
        if not body:
            return str(_("None yet."))
        all_url = reverse("admin:django_schedules_execution_changelist") + f"?schedule={obj.pk}"
        return format_html(
            '<table class="schedules-recent"><thead><tr><th scope="col">{}</th>'
            '<th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th>'
            '<th scope="col">{}</th></tr></thead><tbody>{}</tbody></table>'
            '<p><a href="{}">{}</a></p>',
            _("Fire time"),
            _("Kind"),
            _("Status"),
            _("Reason"),
            _("Duration"),
            body,
            all_url,
            _("All executions of this schedule"),
        )

    # -- extra views: preview, and the change page's buttons ----------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "preview/",
                view(require_POST(self.preview_view)),
                name="django_schedules_schedule_preview",
            ),
            path(
                "<path:object_id>/pause/",
                view(require_POST(self.pause_view)),
                name="django_schedules_schedule_pause",
            ),
            path(
                "<path:object_id>/resume/",
                view(require_POST(self.resume_view)),
                name="django_schedules_schedule_resume",
            ),
            path(
                "<path:object_id>/run/",
                view(require_POST(self.run_view)),
                name="django_schedules_schedule_run",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """Describe the timing the form holds and list its next fire times, without saving.

        A POST with the CSRF token, of the timing fields alone: nothing of the arguments goes
        into a URL, so nothing of them lands in a web server's access log.
        """
        if not (
            self.has_view_permission(request)
            or self.has_add_permission(request)
            or self.has_change_permission(request)
        ):
            raise PermissionDenied
        form = TriggerForm(request.POST)
        if not form.is_valid() or form.trigger is None:
            errors = [
                {
                    "field": field,
                    "label": str(form.fields[field].label) if field in form.fields else "",
                    "messages": [str(message) for message in messages],
                }
                for field, messages in form.errors.items()
            ]
            return JsonResponse({"ok": False, "errors": errors})
        # The exclusion calendars ticked on the form mark the fire times they cover.
        names = request.POST.getlist("calendars")[:100]
        named = store.calendars_by_name(names, store.database_alias())
        shown = preview(form.trigger, PREVIEW_COUNT, calendars=list(named.values()))
        return JsonResponse({"ok": True, **shown})

    def _object_or_404(self, request: HttpRequest, object_id: str) -> Schedule:
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(_("No schedule with id %(id)r.") % {"id": object_id})
        return obj

    def pause_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._switch(request, object_id, api.pause_job, _("%(name)s is paused."))

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._switch(request, object_id, api.resume_job, _("%(name)s is resumed."))

    def _switch(
        self,
        request: HttpRequest,
        object_id: str,
        change: Callable[[str], Schedule],
        message: StrOrPromise,
    ) -> HttpResponse:
        obj = self._object_or_404(request, object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        change(obj.job_id)
        self.message_user(request, str(message) % {"name": obj})
        return self._back_to(obj)

    def run_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._object_or_404(request, object_id)
        if not self.has_run_permission(request, obj):
            raise PermissionDenied
        self._run_now(request, obj)
        return self._back_to(obj)

    def _back_to(self, obj: Schedule) -> HttpResponse:
        return HttpResponseRedirect(
            reverse("admin:django_schedules_schedule_change", args=[obj.pk])
        )
