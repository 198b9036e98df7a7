"""The admin: staff create, edit, preview, pause, resume and run schedules, and read executions.

Every state change goes through ``django_schedules.api`` (the same path as code), so a save
validates like ``add_job`` does and wakes the scheduler. Django's permissions decide everything:
view sees, change edits, pauses and resumes, and running now also needs ``run_schedule``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from django_schedules import api, store
from django_schedules.exceptions import SchedulesError
from django_schedules.forms import CRON_PRESETS, ScheduleForm, TriggerForm, timezone_names
from django_schedules.models import (
    Execution,
    ExecutionStatus,
    Schedule,
    ScheduleSource,
    TriggerKind,
)
from django_schedules.options import OPTIONS
from django_schedules.status import Health, ago, check_health
from django_schedules.triggers import BaseTrigger, describe_dst, trigger_from_dict

if TYPE_CHECKING:  # django-stubs' generics; at run time ModelAdmin takes no parameters.
    from django_schedules.forms import StrOrPromise

    _ScheduleAdmin = admin.ModelAdmin[Schedule]
    _ExecutionAdmin = admin.ModelAdmin[Execution]
    _Paginator = Paginator[Any]
else:
    _ScheduleAdmin = _ExecutionAdmin = admin.ModelAdmin
    _Paginator = Paginator

PREVIEW_COUNT = 5
RECENT_EXECUTIONS = 10
# The change lists count exactly up to this many rows; beyond, PostgreSQL's estimate is used.
COUNT_CAP = 10_000

# Status words carry the meaning; colour only repeats it (a symbol too, for the colour-blind).
STATUS_STYLE: dict[str, tuple[str, str]] = {
    ExecutionStatus.SUCCEEDED: ("ok", "✔"),
    ExecutionStatus.FAILED: ("bad", "✖"),
    ExecutionStatus.LOST: ("bad", "✖"),
    ExecutionStatus.MISSED: ("warn", "!"),
    ExecutionStatus.SKIPPED: ("warn", "\u2013"),  # en dash
    ExecutionStatus.RUNNING: ("busy", "▶"),
    ExecutionStatus.PENDING: ("busy", "…"),
}


def status_badge(status: str | None) -> SafeString | str:
    if not status:
        return "—"
    style, symbol = STATUS_STYLE.get(status, ("busy", "?"))
    label = ExecutionStatus(status).label if status in ExecutionStatus.values else status
    return format_html(
        '<span class="schedules-status schedules-status-{}">{} {}</span>', style, symbol, label
    )


def describe_stored(schedule: Schedule) -> str:
    """The trigger's plain-English description; a broken stored trigger says so."""
    try:
        return trigger_from_dict(schedule.trigger).describe()
    except (ValueError, TypeError, KeyError) as exc:
        return f"Invalid trigger: {exc}"


def moment(value: datetime | None) -> str:
    """An instant to the second, in the viewer's current time zone."""
    if value is None:
        return "—"
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S %Z}"


def when(value: datetime | None, now: datetime | None = None) -> str:
    """'2026-05-01 09:30 CEST (in 3 minutes)', in the viewer's current time zone."""
    if value is None:
        return "—"
    now = now or timezone.now()
    relative = (
        _("in %(time)s") % {"time": timeuntil(value, now)}
        if value >= now
        else _("%(time)s ago") % {"time": timesince(value, now)}
    )
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M %Z} ({relative})"


def planner_estimate(queryset: QuerySet[Any]) -> int | None:
    """The rows PostgreSQL's planner expects `queryset` to return (None on other databases).

    The planner reads the table's statistics (``pg_class.reltuples`` and the columns'
    histograms, kept fresh by autovacuum), so this costs a millisecond where COUNT(*) reads
    every matching row.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.get_compiler(queryset.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan: Any = cursor.fetchone()[0]
    if isinstance(plan, str):  # psycopg2 without a JSON loader
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(_Paginator):
    """A paginator whose count stays cheap on a table of millions of rows.

    Up to COUNT_CAP matching rows it counts exactly, and the count stops there (a COUNT over
    ``LIMIT COUNT_CAP + 1``); beyond, it takes PostgreSQL's planner estimate when that is also
    beyond COUNT_CAP, and counts exactly otherwise (other databases give no estimate worth
    showing). ``estimated`` tells the pagination template to say "about".
    """

    cap = COUNT_CAP
    estimated = False

    @cached_property
    def count(self) -> int:
        queryset = cast("QuerySet[Any]", self.object_list)  # the admin passes a QuerySet
        capped = int(queryset.order_by().values("pk")[: COUNT_CAP + 1].count())
        if capped <= COUNT_CAP:
            return capped
        estimate = planner_estimate(queryset)
        if estimate is None or estimate <= COUNT_CAP:
            return int(queryset.count())
        self.estimated = True
        return estimate


class SortableByChangeList(ChangeList):
    """A change list that sorts only by the columns in ``sortable_by``.

    Django's hides the sort links of the other columns but still obeys a hand-written
    ``?o=`` naming them; here such a column is dropped from ``o`` (the default order stays),
    so a URL cannot ask for a sort of a million rows that no index serves.
    """

    def get_ordering(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[Any]:
        asked = self.params.get(ORDER_VAR)
        if isinstance(asked, str):
            kept = [part for part in asked.split(".") if self._sortable(part)]
            if kept:
                self.params[ORDER_VAR] = ".".join(kept)
            else:
                del self.params[ORDER_VAR]
        return super().get_ordering(request, queryset)

    def _sortable(self, part: str) -> bool:
        index = part.rpartition("-")[2]
        if not index.isdigit() or int(index) >= len(self.list_display):
            return False
        return self.sortable_by is None or self.list_display[int(index)] in self.sortable_by


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


class SchedulesMedia:
    css = {"all": ["django_schedules/admin.css"]}


@admin.register(Schedule)
class ScheduleAdmin(_ScheduleAdmin):
    form = ScheduleForm
    Media = SchedulesMedia
    list_display = (
        "display_name",
        "job",
        "description",
        "next_run",
        "last_outcome",
        "enabled",
        "source_label",
    )
    list_filter = ("enabled", "trigger_kind", LastOutcomeFilter, SourceFilter)
    search_fields = ("name", "job_id")
    actions = ("pause_schedules", "resume_schedules", "run_schedules_now")
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over a table of 100,000 on every page
    paginator = EstimatedCountPaginator
    change_form_template = "admin/django_schedules/schedule/change_form.html"
    change_list_template = "admin/django_schedules/schedule/change_list.html"

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
    )
    failure_fields = (
        "misfire_policy",
        "misfire_grace_time",
        "max_instances",
        "timeout",
        ("max_retries", "retry_delay"),
        "rerun_lost",
        "executor",
    )

    # -- pages ------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Schedule]:
        # Ordered by fire time alone: (schedule, fire_time) is unique, so the unique index read
        # backwards answers it without a sort, once per row shown.
        last = Execution.objects.filter(schedule=OuterRef("pk")).order_by("-fire_time")
        return (
            super().get_queryset(request).annotate(last_status=Subquery(last.values("status")[:1]))
        )

    def get_fieldsets(self, request: HttpRequest, obj: Schedule | None = None) -> Any:
        what = (None, {"fields": ["job_id", "name", "func", "args", "kwargs", "enabled"]})
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
        if obj is not None and obj.trigger_kind in (TriggerKind.AND, TriggerKind.OR):
            timing = (
                _("When it runs"),
                {
                    "fields": ["description", "next_run_at"],
                    "description": _(
                        "A combined schedule made in code: shown here, changed in code."
                    ),
                },
            )
        else:
            timing = (_("When it runs"), {"fields": list(self.timing_fields)})
        status = (
            _("Status"),
            {"fields": ["source_label", "next_run_at", "last_error", "recent_executions"]},
        )
        return [what, timing, failures] + ([status] if obj is not None else [])

    def get_readonly_fields(self, request: HttpRequest, obj: Schedule | None = None) -> Any:
        fields = ["source_label", "next_run_at", "last_error", "recent_executions", "description"]
        return fields

    def get_form(
        self, request: HttpRequest, obj: Schedule | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is not None and obj.trigger_kind in (TriggerKind.AND, TriggerKind.OR):
            # Only the fields shown: the combined trigger itself is not editable here.
            kwargs["fields"] = ["job_id", "name", "func", "args", "kwargs", "enabled"]
            kwargs["fields"] += [f for f in self.failure_fields if isinstance(f, str)]
            kwargs["fields"] += ["max_retries", "retry_delay"]
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
                "viewer_zone": timezone.get_current_timezone_name(),
                "has_run_permission": self.has_run_permission(request),
            }
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        panels = [scheduler_panel(check_health(group)) for group in store.scheduler_groups()]
        return super().changelist_view(
            request, {**(extra_context or {}), "scheduler_panels": panels}
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
            if trigger is not None and obj.source == ScheduleSource.ADMIN:
                values["trigger"] = trigger
            saved = api.modify_job(obj.job_id, **values)  # one transaction, enabled included
        else:
            saved = api.add_job(
                trigger=trigger, id=obj.job_id, source=ScheduleSource.ADMIN, **values
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Schedule) -> None:
        api.remove_job(obj.job_id)

    # -- change list columns -------------------------------------------------------------------

    @admin.display(description=_("job"), ordering="func")
    def job(self, obj: Schedule) -> str:
        return obj.func

    @admin.display(description=_("name"), ordering="name")
    def display_name(self, obj: Schedule) -> str:
        return obj.name or obj.job_id

    @admin.display(description=_("when"))
    def description(self, obj: Schedule) -> str:
        return describe_stored(obj)

    @admin.display(description=_("next run"), ordering="next_run_at")
    def next_run(self, obj: Schedule) -> str:
        if not obj.enabled:
            return str(_("paused"))
        if obj.next_run_at is None:
            return str(_("finished"))
        return when(obj.next_run_at)

    @admin.display(description=_("last outcome"))
    def last_outcome(self, obj: Schedule) -> SafeString | str:
        return status_badge(getattr(obj, "last_status", None))

    @admin.display(description=_("declared in"), ordering="source")
    def source_label(self, obj: Schedule) -> str:
        if obj.source == ScheduleSource.ADMIN:
            return str(_("Admin"))
        return str(_("%(source)s (timing locked)") % {"source": obj.get_source_display()})

    @admin.display(description=_("last 10 executions"))
    def recent_executions(self, obj: Schedule) -> SafeString | str:
        if not obj.pk:
            return "—"
        rows = Execution.objects.filter(schedule=obj).order_by("-fire_time", "-id")[
            :RECENT_EXECUTIONS
        ]
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
                    _duration(e.duration),
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

    # -- actions ------------------------------------------------------------------------------

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

    # -- extra views: preview, and the change page's buttons ----------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="django_schedules_schedule_preview"),
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
        """Describe the timing the form holds and list its next fire times, without saving."""
        if not (
            self.has_view_permission(request)
            or self.has_add_permission(request)
            or self.has_change_permission(request)
        ):
            raise PermissionDenied
        form = TriggerForm(request.GET)
        if not form.is_valid() or form.trigger is None:
            errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
            return JsonResponse({"ok": False, "errors": errors})
        return JsonResponse({"ok": True, **preview(form.trigger, PREVIEW_COUNT)})

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


def scheduler_panel(health: Health) -> dict[str, Any]:
    """What the change list's status panel shows of one scheduler group."""
    status = health.status
    leader = status.leader
    return {
        "group": status.group,
        "ok": health.ok,
        "problems": health.problems,
        "leader": (
            {
                "name": f"{leader.host} (pid {leader.pid})",
                "heartbeat": ago(health.age(leader.heartbeat_at)),
                "fired": leader.fired_last_minute,
            }
            if leader is not None
            else None
        ),
        "standbys": [
            {"name": f"{p.host} (pid {p.pid})", "heartbeat": ago(health.age(p.heartbeat_at))}
            for p in health.standbys
        ],
        "lag": f"{status.lag:.1f} s",
        "overdue": status.overdue,
        "last_seen": ago(health.age(status.last_seen)),
    }


def preview(trigger: BaseTrigger, count: int, now: datetime | None = None) -> dict[str, Any]:
    """The preview's content: description and the next fire times in two zones, with DST notes."""
    now = now or datetime.now(UTC)
    viewer = timezone.get_current_timezone()
    zone = trigger.timezone
    fires = []
    for fire in trigger.fire_times(now, count):
        fires.append(
            {
                "iso": fire.isoformat(),
                "schedule_zone": f"{fire.astimezone(zone):%a %Y-%m-%d %H:%M:%S %Z}",
                "viewer_zone": f"{fire.astimezone(viewer):%a %Y-%m-%d %H:%M:%S %Z}",
                "dst_note": describe_dst(trigger, fire) or "",
            }
        )
    return {
        "description": trigger.describe(),
        "zone": getattr(zone, "key", str(zone)),
        "viewer_zone": getattr(viewer, "key", str(viewer)),
        "fire_times": fires,
    }


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return str(timedelta(seconds=round(seconds)))


class ScheduleLinkFilter(admin.SimpleListFilter):
    """Filter executions by one schedule, reached from a link: no list of every schedule."""

    title = _("schedule")
    parameter_name = "schedule"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        if value and value.isdigit():
            schedule = Schedule.objects.filter(pk=int(value)).only("name", "job_id").first()
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
    list_display = (
        "job_id",
        "schedule_link",
        "fire_time_local",
        "kind",
        "status_label",
        "started",
        "duration_label",
        "worker",
        "short_result",
    )
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
        if obj.schedule_id is None:
            return format_html("{} <em>({})</em>", obj.name or obj.job_id, _("deleted"))
        url = reverse("admin:django_schedules_schedule_change", args=[obj.schedule_id])
        return format_html('<a href="{}">{}</a>', url, obj.name or obj.job_id)

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
        return _duration(obj.duration)

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
