"""The executions' admin: read-only history, filtered by schedule, cheap on millions of rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from django_schedules import store
from django_schedules.models import (
    Execution,
    Schedule,
)

if TYPE_CHECKING:  # django-stubs' generics; at run time these take no parameters.
    _ExecutionAdmin = admin.ModelAdmin[Execution]
else:
    _ExecutionAdmin = admin.ModelAdmin
from django_schedules.admin.display import (
    EstimatedCountPaginator,
    SchedulesMedia,
    SortableByChangeList,
    duration_text,
    moment,
    status_badge,
)


class ScheduleLinkFilter(admin.SimpleListFilter):
    """Filter executions by one schedule, reached from a link: no list of every schedule."""

    title = _("schedule")
    parameter_name = "schedule"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        if value and value.isdigit():
            schedule = (
                (Schedule.objects.using(store.database_alias()).filter(pk=int(value)))
                .only("name", "job_id")
                .first()
            )
            if schedule is not None:
                return [(value, str(schedule))]
        return []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(schedule_id=int(value))
        return queryset


@admin.register(Execution)
class ExecutionAdmin(_ExecutionAdmin):
    Media = SchedulesMedia
    # The fire time opens the execution; the schedule column links to its schedule, with the
    # job id beneath the name (one column for both keeps the list within 1,400 px).
    list_display = (
        "fire_time_local",
        "schedule_link",
        "kind",
        "status_label",
        "started",
        "duration_label",
        "worker",
        "short_result",
    )
    list_display_links = ("fire_time_local",)
    list_filter = (ScheduleLinkFilter, "status", "kind", ("fire_time", admin.DateFieldListFilter))
    # Through the schedule: its job id and name are matched in the schedules table, and
    # their executions found through the (schedule, fire_time) index. A LIKE '%term%' on the
    # executions themselves would read all of them.
    search_fields = ("schedule__job_id", "schedule__name")
    # No join: the columns read schedule_id and the execution's own copy of the job's name.
    list_select_related = False
    list_per_page = 50
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # "Show counts" would count each filter's choices over every execution (0.6 s at a million).
    show_facets = admin.ShowFacets.NEVER
    date_hierarchy = None
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "schedule_link",
                    "job_id",
                    "name",
                    "func",
                    "fire_time_local",
                    "run_at_local",
                    "kind",
                    "status_label",
                    "reason",
                    "attempt",
                    "executor",
                    "worker",
                ]
            },
        ),
        (
            _("Timing"),
            {"fields": ["created", "started", "finished", "duration_label"]},
        ),
        (_("Outcome"), {"fields": ["result_block", "traceback_block"]}),
    ]
    readonly_fields = (
        "schedule_link",
        "job_id",
        "name",
        "func",
        "fire_time_local",
        "run_at_local",
        "kind",
        "status_label",
        "reason",
        "attempt",
        "executor",
        "worker",
        "created",
        "started",
        "finished",
        "duration_label",
        "result_block",
        "traceback_block",
    )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Execution | None = None,
    ) -> HttpResponse:
        # The page's title in the viewer's zone, as every time on the page (str() says UTC).
        if obj is not None:
            context["subtitle"] = f"{obj.job_id} @ {moment(obj.fire_time)}"
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Execution]:
        return super().get_queryset(request).using(store.database_alias())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Execution | None = None) -> bool:
        return False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return SortableByChangeList

    def get_sortable_by(self, request: HttpRequest) -> Any:
        """Fire time always (an index serves it); the other columns within one schedule's
        executions, where sorting reads that schedule's rows, not the whole table."""
        if ScheduleLinkFilter.parameter_name in request.GET:
            return super().get_sortable_by(request)
        return ("fire_time_local",)

    def has_delete_permission(self, request: HttpRequest, obj: Execution | None = None) -> bool:
        return False

    @admin.display(description=_("schedule"))
    def schedule_link(self, obj: Execution) -> SafeString | str:
        job_id = format_html('<span class="schedules-job-id">{}</span>', obj.job_id)
        if obj.schedule_id is None:
            return format_html("{} <em>({})</em>{}", obj.name or obj.job_id, _("deleted"), job_id)
        url = reverse("admin:django_schedules_schedule_change", args=[obj.schedule_id])
        return format_html('<a href="{}">{}</a>{}', url, obj.name or obj.job_id, job_id)

    @admin.display(description=_("fire time"), ordering="fire_time")
    def fire_time_local(self, obj: Execution) -> str:
        return moment(obj.fire_time)

    @admin.display(description=_("starts at (fire time plus jitter)"))
    def run_at_local(self, obj: Execution) -> str:
        return moment(obj.run_at)

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, obj: Execution) -> str:
        return moment(obj.created_at)

    @admin.display(description=_("started"), ordering="started_at")
    def started(self, obj: Execution) -> str:
        return moment(obj.started_at)

    @admin.display(description=_("finished"), ordering="finished_at")
    def finished(self, obj: Execution) -> str:
        return moment(obj.finished_at)

    @admin.display(description=_("status"), ordering="status")
    def status_label(self, obj: Execution) -> SafeString | str:
        return status_badge(obj.status)

    @admin.display(description=_("duration"), ordering="duration")
    def duration_label(self, obj: Execution) -> str:
        return duration_text(obj.duration)

    @admin.display(description=_("result"))
    def short_result(self, obj: Execution) -> str:
        text = obj.result or obj.reason
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description=_("result"))
    def result_block(self, obj: Execution) -> SafeString | str:
        if not obj.result:
            return "—"
        return format_html('<pre class="schedules-pre">{}</pre>', obj.result)

    @admin.display(description=_("traceback"))
    def traceback_block(self, obj: Execution) -> SafeString | str:
        if not obj.traceback:
            return "—"
        return format_html('<pre class="schedules-pre">{}</pre>', obj.traceback)
