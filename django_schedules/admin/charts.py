"""The charts on a schedule's admin page: its runs over the last 24 hours (an hour a bar) and
the last 7 days (a day a bar) by outcome, and the worst start lateness of each bar, drawn as
inline SVG (no script, no CDN) from one aggregate query.

The query counts each bar's rows by status and takes their largest ``started_at - fire_time``
(a backfilled run's left out: it starts long after its fire time by design)
with filtered aggregates over the schedule's rows of the last 7 days, so it reads the
``(schedule, fire_time)`` index of the one-execution-per-fire constraint and never the rest of
the history; the bars' bounds are worked out here, in the viewer's zone for the days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo

from django.db.models import (
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from django_schedules.models import Execution, ExecutionKind, ExecutionStatus

# The outcomes a bar stacks, bottom up, with their colours (readable on the admin's light and
# dark themes). Pending and running rows are not outcomes yet.
OUTCOMES: tuple[tuple[ExecutionStatus, str], ...] = (
    (ExecutionStatus.SUCCEEDED, "#2e7d32"),
    (ExecutionStatus.FAILED, "#c62828"),
    (ExecutionStatus.LOST, "#6a1b9a"),
    (ExecutionStatus.MISSED, "#ef6c00"),
    (ExecutionStatus.SKIPPED, "#78909c"),
)
LATENESS_COLOUR = "#1565c0"
HOURS, DAYS = 24, 7


@dataclass(frozen=True)
class Bar:
    """One bar: its window [start, end), its rows by outcome, its worst start lateness."""

    start: datetime
    end: datetime
    counts: dict[str, int] = field(default_factory=dict)
    latest_start: timedelta | None = None  # the largest started_at - fire_time

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class History:
    """A schedule's last 24 hours and last 7 days, as bars."""

    hours: list[Bar]
    days: list[Bar]


def windows(now: datetime, zone: tzinfo) -> tuple[list[tuple[datetime, datetime]], ...]:
    """The bars' bounds: 24 whole hours (UTC hours, so a bar is always an hour long) up to
    the end of the current one, and 7 days from midnight to midnight in ``zone`` up to the
    end of today there (a day of a clock change is 23 or 25 hours long)."""
    top = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    hours = [
        (top - timedelta(hours=HOURS - k), top - timedelta(hours=HOURS - k - 1))
        for k in range(HOURS)
    ]
    today = now.astimezone(zone).date()
    midnights = [
        # In UTC: two aware datetimes of one zone subtract as wall clock times.
        datetime.combine(today - timedelta(days=DAYS - 1 - k), time(0), tzinfo=zone).astimezone(UTC)
        for k in range(DAYS + 1)
    ]
    days = [(midnights[k], midnights[k + 1]) for k in range(DAYS)]
    return hours, days


def _bar_of(bounds: list[tuple[datetime, datetime]]) -> Case:
    """The index of the bar a row's fire time falls in (NULL outside them all): a CASE the
    database stops reading at the first bound that fits."""
    return Case(
        *(
            When(fire_time__gte=start, fire_time__lt=end, then=Value(i))
            for i, (start, end) in enumerate(bounds)
        ),
        default=Value(None),
        output_field=IntegerField(),
    )


def run_history(schedule_id: int, now: datetime, zone: tzinfo, using: str) -> History:
    """Schedule ``schedule_id``'s bars: one query, whatever the number of rows. The rows are
    grouped by (hour bar, day bar, status), each row's bars found by a CASE over the bounds,
    so the database reads each row once and returns at most a few hundred groups."""
    hours, days = windows(now, zone)
    lateness = ExpressionWrapper(F("started_at") - F("fire_time"), output_field=DurationField())
    earliest = min(hours[0][0], days[0][0])
    latest = max(hours[-1][1], days[-1][1])
    groups = (
        Execution.objects.using(using)
        .filter(schedule_id=schedule_id, fire_time__gte=earliest, fire_time__lt=latest)
        .annotate(hour_bar=_bar_of(hours), day_bar=_bar_of(days))
        .values("hour_bar", "day_bar", "status")
        # A backfilled run starts long after its fire time by design: not lateness.
        .annotate(n=Count("pk"), late=Max(lateness, filter=~Q(kind=ExecutionKind.BACKFILL)))
        .order_by()
    )
    outcomes = [status.value for status, _colour in OUTCOMES]
    counts = [dict.fromkeys(outcomes, 0) for _ in range(HOURS + DAYS)]
    late: list[timedelta | None] = [None] * (HOURS + DAYS)
    for group in groups:
        for bar in (
            group["hour_bar"],
            None if group["day_bar"] is None else HOURS + group["day_bar"],
        ):
            if bar is None:
                continue
            if group["status"] in counts[bar]:
                counts[bar][group["status"]] += group["n"]
            worst = group["late"]
            if worst is not None and (late[bar] is None or worst > late[bar]):
                late[bar] = worst
    bars = [Bar(start, end, counts[i], late[i]) for i, (start, end) in enumerate(hours + days)]
    return History(bars[:HOURS], bars[HOURS:])


# --- drawing ---

WIDTH, HEIGHT, GAP = 480, 96, 2


def _seconds(value: timedelta) -> str:
    seconds = value.total_seconds()
    if abs(seconds) < 1:
        return _("%(ms)s ms") % {"ms": f"{seconds * 1000:.0f}"}
    return _("%(s)s s") % {"s": f"{seconds:.1f}"}


def _outcomes_text(counts: dict[str, int]) -> str:
    labels = dict(ExecutionStatus.choices)
    shown = [f"{n} {labels[status].lower()}" for status, n in counts.items() if n]
    return ", ".join(shown) if shown else _("no runs")


def _figure(summary: str, shapes: Sequence[SafeString]) -> SafeString:
    """A chart: ``shapes`` in an SVG labelled ``summary``, which its caption says too."""
    return format_html(
        '<figure class="schedules-chart"><svg viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'preserveAspectRatio="none">{}</svg><figcaption>{}</figcaption></figure>',
        WIDTH,
        HEIGHT,
        summary,
        SafeString("".join(shapes)),
        summary,
    )


def outcome_chart(bars: Sequence[Bar], label: str, fmt: str, zone: tzinfo) -> SafeString:
    """Stacked bars of ``bars``' outcomes, each with a tooltip naming its window (``fmt`` in
    ``zone``) and its counts, and a text line of the totals for screen readers and print."""
    width = WIDTH / len(bars)
    most = max((bar.total for bar in bars), default=0) or 1
    rects = []
    for i, bar in enumerate(bars):
        tip = f"{bar.start.astimezone(zone):{fmt}}: {_outcomes_text(bar.counts)}"
        y = float(HEIGHT)
        parts = []
        for status, colour in OUTCOMES:
            n = bar.counts.get(status.value, 0)
            if not n:
                continue
            h = HEIGHT * n / most
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"></rect>',
                    f"{i * width + GAP / 2:.1f}",
                    f"{y:.1f}",
                    f"{width - GAP:.1f}",
                    f"{h:.1f}",
                    colour,
                )
            )
        rects.append(
            format_html(
                '<g class="schedules-bar" data-total="{}"><title>{}</title>'
                '<rect x="{}" y="0" width="{}" height="{}" fill="transparent"></rect>{}</g>',
                bar.total,
                tip,
                f"{i * width:.1f}",
                f"{width:.1f}",
                HEIGHT,
                SafeString("".join(parts)),
            )
        )
    totals: dict[str, int] = {}
    for bar in bars:
        for name, n in bar.counts.items():
            totals[name] = totals.get(name, 0) + n
    summary = f"{label}: {_outcomes_text(totals)}"
    return _figure(summary, rects)


def lateness_chart(bars: Sequence[Bar], label: str, fmt: str, zone: tzinfo) -> SafeString:
    """A bar per window of its worst start lateness (none where nothing started)."""
    width = WIDTH / len(bars)
    late = [bar.latest_start for bar in bars]
    worst = max((value for value in late if value is not None), default=None)
    scale = worst.total_seconds() if worst is not None and worst.total_seconds() > 0 else 1.0
    rects = []
    for i, bar in enumerate(bars):
        if bar.latest_start is None:
            continue
        seconds = max(bar.latest_start.total_seconds(), 0.0)
        h = max(HEIGHT * seconds / scale, 1.0)
        rects.append(
            format_html(
                '<g class="schedules-late"><title>{}: {}</title><rect x="{}" y="{}" width="{}" '
                'height="{}" fill="{}"></rect></g>',
                f"{bar.start.astimezone(zone):{fmt}}",
                _("started at most %(late)s late") % {"late": _seconds(bar.latest_start)},
                f"{i * width + GAP / 2:.1f}",
                f"{HEIGHT - h:.1f}",
                f"{width - GAP:.1f}",
                f"{h:.1f}",
                LATENESS_COLOUR,
            )
        )
    if worst is None:
        summary = _("%(label)s: nothing started") % {"label": label}
    else:
        summary = _("%(label)s: at most %(late)s late") % {"label": label, "late": _seconds(worst)}
    return _figure(summary, rects)


SPARKLINE_RUNS = 10  # the schedule list's sparkline: its last ten executions
_SPARK_COLOURS = {status.value: colour for status, colour in OUTCOMES} | {
    ExecutionStatus.PENDING.value: "#b0bec5",
    ExecutionStatus.RUNNING.value: LATENESS_COLOUR,
}


def earlier_outcomes(last: QuerySet[Execution]) -> dict[str, Subquery]:
    """Annotations of the schedule list: the statuses of the 2nd to 10th newest executions of
    ``last`` (a row's executions, newest first), each one more probe of the same index."""
    return {
        f"earlier_status_{k}": Subquery(last.values("status")[k : k + 1])
        for k in range(1, SPARKLINE_RUNS)
    }


def recent_outcomes(row: object) -> list[str | None]:
    """The statuses ``earlier_outcomes`` annotated on ``row``, newest first."""
    return [getattr(row, f"earlier_status_{k}", None) for k in range(1, SPARKLINE_RUNS)]


def sparkline(statuses: Sequence[str | None]) -> SafeString:
    """A row of squares, oldest left, of ``statuses`` (newest first, None past the first run),
    coloured as the charts' outcomes, with the counts in words as its label."""
    shown = [status for status in statuses if status][::-1]
    labels = dict(ExecutionStatus.choices)
    counts: dict[str, int] = {}
    for status in shown:
        counts[status] = counts.get(status, 0) + 1
    words = ", ".join(f"{n} {labels.get(s, s).lower()}" for s, n in counts.items())
    summary = _("Last %(n)s runs: %(words)s") % {"n": len(shown), "words": words}
    size, gap = 7, 2
    squares = format_html_join(
        "",
        '<rect x="{}" y="0" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        (
            (
                (size + gap) * i,
                size,
                size,
                _SPARK_COLOURS.get(status, "#999"),
                labels.get(status, status),
            )
            for i, status in enumerate(shown)
        ),
    )
    return format_html(
        '<svg class="schedules-sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="{}"><title>{}</title>{}</svg>',
        (size + gap) * SPARKLINE_RUNS,
        size,
        (size + gap) * SPARKLINE_RUNS,
        size,
        summary,
        summary,
        squares,
    )


def legend() -> SafeString:
    """The outcomes' colours, in words."""
    labels = dict(ExecutionStatus.choices)
    return format_html(
        '<ul class="schedules-legend">{}</ul>',
        format_html_join(
            "",
            '<li><span class="schedules-swatch" style="background:{}"></span>{}</li>',
            ((colour, labels[status]) for status, colour in OUTCOMES),
        ),
    )


def charts(history: History, zone: tzinfo) -> dict[str, SafeString]:
    """The page's four charts and the legend, ready for the template."""
    return {
        "hours": outcome_chart(history.hours, _("Runs, last 24 hours"), "%H:%M", zone),
        "days": outcome_chart(history.days, _("Runs, last 7 days"), "%a %d %b", zone),
        "hours_late": lateness_chart(
            history.hours, _("Start lateness, last 24 hours"), "%H:%M", zone
        ),
        "days_late": lateness_chart(
            history.days, _("Start lateness, last 7 days"), "%a %d %b", zone
        ),
        "legend": legend(),
    }


def for_page(schedule_id: int, using: str) -> dict[str, SafeString]:
    """The charts of a schedule's admin page, in the viewer's zone, up to now."""
    zone = timezone.get_current_timezone()
    return charts(run_history(schedule_id, timezone.now(), zone, using), zone)
