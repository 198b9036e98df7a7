"""What the admin pages show: status badges, instants, the scheduler panel, the trigger
preview, and the paginator and change list that stay cheap on large tables.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext_lazy as _

from django_schedules.calendars import Calendar as Exclusion
from django_schedules.calendars import covering
from django_schedules.models import (
    ExecutionStatus,
    Schedule,
)
from django_schedules.status import Health, ago
from django_schedules.triggers import BaseTrigger, describe_dst, trigger_from_dict

if TYPE_CHECKING:  # django-stubs' generics; at run time these take no parameters.
    _Paginator = Paginator[Any]
else:
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
    ExecutionStatus.BUFFERED: ("busy", "⏸"),  # waits for the running run (overlap)
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


def dotted(name: str) -> SafeString:
    """A dotted name that may break after each dot in a narrow column."""
    return format_html_join(mark_safe(".<wbr>"), "{}", ((part,) for part in name.split(".")))


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
    if abs(value - now) < timedelta(minutes=1):
        relative = str(_("now") if value >= now else _("just now"))
    elif value >= now:
        relative = _("in %(time)s") % {"time": timeuntil(value, now)}
    else:
        relative = _("%(time)s ago") % {"time": timesince(value, now)}
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M %Z} ({relative})"


def paused_text(schedule: Schedule) -> str:
    """'paused: <reason> (until <when>)', as much of it as the schedule has."""
    text = str(_("paused"))
    if schedule.pause_reason:
        text += f": {schedule.pause_reason}"
    if schedule.paused_until is not None:
        text += " " + str(_("(until %(when)s)") % {"when": when(schedule.paused_until)})
    return text


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

    Up to ``cap`` matching rows it counts exactly, and the count stops there (a COUNT over
    ``LIMIT cap + 1``); beyond, it takes PostgreSQL's planner estimate when that is also
    beyond ``cap``, and counts exactly otherwise (other databases give no estimate worth
    showing). ``estimated`` tells the pagination template to say "about".
    """

    cap = COUNT_CAP
    estimated = False

    @cached_property
    def count(self) -> int:
        queryset = cast("QuerySet[Any]", self.object_list)  # the admin passes a QuerySet
        capped = int(queryset.order_by().values("pk")[: self.cap + 1].count())
        if capped <= self.cap:
            return capped
        estimate = planner_estimate(queryset)
        if estimate is None or estimate <= self.cap:
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


class SchedulesMedia:
    css = {"all": ["django_schedules/admin.css"]}


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


def failing_panel(count: int, first: list[tuple[int, str]]) -> dict[str, Any] | None:
    """The status panel's line of schedules paused after too many failed runs in a row."""
    if not count:
        return None
    links = [
        (reverse("admin:django_schedules_schedule_change", args=[pk]), job_id)
        for pk, job_id in first
    ]
    return {"count": count, "links": links, "more": count - len(links)}


def preview(
    trigger: BaseTrigger,
    count: int,
    now: datetime | None = None,
    calendars: Sequence[Exclusion] = (),
) -> dict[str, Any]:
    """The preview's content: description and the next fire times in two zones, with DST notes,
    each fire time inside one of the exclusion `calendars` marked (it will not run)."""
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
                "excluded": excluded_note(calendars, fire),
            }
        )
    return {
        "description": trigger.describe(),
        "zone": getattr(zone, "key", str(zone)),
        "viewer_zone": getattr(viewer, "key", str(viewer)),
        "fire_times": fires,
        "notes": calendar_notes(trigger),
    }


def upcoming_table(trigger: BaseTrigger, calendars: Sequence[Exclusion]) -> SafeString | str:
    """A saved schedule's next fire times in its zone and the viewer's, as the preview lists
    them, those inside its exclusion calendars marked."""
    shown = preview(trigger, PREVIEW_COUNT, calendars=calendars)
    if not shown["fire_times"]:
        return str(_("It will not run again."))
    return format_html(
        '<table class="schedules-recent"><thead><tr><th scope="col">{} ({})</th>'
        '<th scope="col">{} ({})</th><th scope="col">{}</th></tr></thead><tbody>{}</tbody>'
        "</table>",
        _("In the schedule's time zone"),
        shown["zone"],
        _("In your time zone"),
        shown["viewer_zone"],
        _("Note"),
        format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    fire["schedule_zone"],
                    fire["viewer_zone"],
                    " ".join(filter(None, [fire["excluded"], fire["dst_note"]])),
                )
                for fire in shown["fire_times"]
            ),
        ),
    )


def excluded_note(calendars: Sequence[Exclusion], fire: datetime) -> str:
    """ "Not run: inside calendar 'X'" for a fire time inside one of `calendars`, else ""."""
    inside = covering(calendars, fire)
    if inside is None:
        return ""
    return str(_("Not run: inside calendar %(name)r") % {"name": inside.name})


def calendar_notes(trigger: BaseTrigger) -> list[str]:
    """What a calendar interval counted from a late day of the month skips: "every month"
    from the 31st runs in seven months of the year, and says which ones it leaves out."""
    data = trigger.to_dict()
    start = trigger.start_date
    months_step = (
        data.get("years", 0) * 12 + data.get("months", 0)
        if data["kind"] == "calendarinterval"
        else 0
    )
    if not months_step or start is None or start.day <= 28:
        return []
    local = start.astimezone(trigger.timezone)
    skipped = []
    for step in range(1, 13):
        year, month0 = divmod(local.year * 12 + local.month - 1 + step * months_step, 12)
        if year > 9999:
            break
        if local.day > calendar.monthrange(year, month0 + 1)[1] and month0 + 1 not in skipped:
            skipped.append(month0 + 1)
    if not skipped:
        return []
    names = ", ".join(calendar.month_name[month] for month in sorted(skipped))
    return [
        str(
            _(
                "It runs on day %(day)d of the month, counted from its start: months without "
                "that day are skipped (%(months)s)."
            )
            % {"day": local.day, "months": names}
        )
    ]


def duration_text(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return str(timedelta(seconds=round(seconds)))
