"""Carry schedules over from django-celery-beat (``manage.py importschedules``).

Each peer row becomes an ``ImportItem``: the ``add_job`` keyword arguments of the equivalent
schedule, the notes on what cannot be carried over, or the reason the row cannot be imported
at all. The mapping is pure (rows in, items out); ``store`` reads the peer's tables.

django-apscheduler is not read: it keeps each job as a pickled APScheduler ``Job``
(``DjangoJob.job_state``), and unpickling runs whatever code the bytes name (see
``APSCHEDULER_REFUSAL``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django_schedules.exceptions import JobNotRegistered
from django_schedules.registry import lookup

APSCHEDULER_REFUSAL = (
    "django-apscheduler stores each job as a pickled APScheduler Job (the job_state column of "
    "django_apscheduler_djangojob). Unpickling runs whatever code the pickled bytes name, so "
    "reading it would let a row in the database run arbitrary code: django-schedules never "
    "unpickles. Declare the jobs again with add_job or SCHEDULES_JOBS: the calls are the "
    "same as APScheduler's (docs/migrating.md shows them side by side)."
)

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
INTERVAL_PERIODS = ("days", "hours", "minutes", "seconds")
# PeriodicTask fields that change how Celery delivers a task, and the value meaning "unset".
CELERY_DELIVERY = {
    "queue": (None, ""),
    "exchange": (None, ""),
    "routing_key": (None, ""),
    "priority": (None,),
    "expire_seconds": (None,),
    "headers": (None, "", "{}"),
}


@dataclass
class ImportItem:
    source: str
    job_id: str
    add_job_kwargs: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def celery_days(value: str) -> str:
    """Celery's day_of_week (0 or 7 = Sunday, as in crontab) as day names.

    Our cron trigger counts 0 as Monday (APScheduler 3's convention), so numbers are never
    passed through: ``"1-5"`` becomes ``"mon,tue,wed,thu,fri"``.
    """
    text = str(value).strip().lower()
    if text == "*":
        return "*"
    days: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"day_of_week step must be 1 or more, got {value!r}")
        if span == "*":
            start, end = 0, 6
        elif "-" in span:
            first, _, last = span.partition("-")
            start, end = _day(first, value), _day(last, value)
        else:
            start = end = _day(span, value)
            if step_text:
                end = 6
        sequence = (
            list(range(start, end + 1)) if start <= end else [*range(start, 7), *range(0, end + 1)]
        )
        days.update(sequence[::step])
    return ",".join(DAY_NAMES[day] for day in sorted(days))


def _day(token: str, whole: str) -> int:
    token = token.strip()
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    if token[:3] in DAY_NAMES:
        return DAY_NAMES.index(token[:3])
    raise ValueError(f"day_of_week has {token!r}, which is not a day, in {whole!r}")


def _json(text: Any, default: Any, what: str) -> Any:
    if text in (None, ""):
        return default
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{what} is not valid JSON: {text!r}") from exc


def from_celery_beat(task: Any) -> ImportItem:
    """Map one django-celery-beat ``PeriodicTask`` (with its schedule loaded)."""
    item = ImportItem(source=f"PeriodicTask {task.name!r}", job_id=str(task.name)[:200])
    try:
        registered = lookup(task.task)
    except JobNotRegistered:
        item.error = (
            f"its task {task.task!r} is not a registered job: register the function with "
            f"@django_schedules.job(name={task.task!r}), then import again"
        )
        return item
    kwargs: dict[str, Any] = {"func": registered.name, "name": str(task.name)[:200]}
    try:
        kwargs["args"] = _json(task.args, [], "args")
        kwargs["kwargs"] = _json(task.kwargs, {}, "kwargs")
    except ValueError as exc:
        item.error = str(exc)
        return item
    if getattr(task, "interval", None) is not None:
        period = task.interval.period
        if period not in INTERVAL_PERIODS:
            item.error = f"an interval in {period!r} has no equivalent (we count down to seconds)"
            return item
        kwargs.update(trigger="interval", **{period: task.interval.every})
    elif getattr(task, "crontab", None) is not None:
        cron = task.crontab
        try:
            day_of_week = celery_days(cron.day_of_week)
        except ValueError as exc:
            item.error = str(exc)
            return item
        kwargs.update(
            trigger="cron",
            minute=cron.minute,
            hour=cron.hour,
            day=cron.day_of_month,
            month=cron.month_of_year,
            day_of_week=day_of_week,
        )
        zone = getattr(cron, "timezone", None)
        if zone is not None and str(zone):
            kwargs["timezone"] = str(zone)
    elif getattr(task, "clocked", None) is not None:
        kwargs.update(trigger="date", run_date=task.clocked.clocked_time)
    elif getattr(task, "solar", None) is not None:
        item.error = (
            f"solar schedules ({task.solar.event} at {task.solar.latitude}, "
            f"{task.solar.longitude}) have no equivalent trigger"
        )
        return item
    else:
        item.error = "it has no schedule (no interval, crontab, solar or clocked)"
        return item
    if getattr(task, "one_off", False) and kwargs["trigger"] != "date":
        item.error = (
            "one_off with a repeating schedule (run once, then disable) has no equivalent; "
            "use a date trigger"
        )
        return item
    if kwargs["trigger"] != "date":
        if getattr(task, "start_time", None) is not None:
            kwargs["start_date"] = task.start_time
        if getattr(task, "expires", None) is not None:
            kwargs["end_date"] = task.expires
            item.notes.append(
                "expires became the trigger's end_date: it stops firing then (Celery stops "
                "sending then)"
            )
    if not getattr(task, "enabled", True):
        kwargs["enabled"] = False
        item.notes.append("it is disabled in celery beat, so it is imported paused")
    for name, unset in CELERY_DELIVERY.items():
        value = getattr(task, name, None)
        if value not in unset:
            item.notes.append(f"{name}={value!r} is not carried over (it is Celery routing)")
    item.add_job_kwargs = kwargs
    return item
