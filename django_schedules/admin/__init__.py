"""The admin: staff create, edit, preview, pause, resume and run schedules, and read executions.

Every state change goes through ``django_schedules.api`` (the same path as code), so a save
validates like ``add_job`` does and wakes the scheduler. Django's permissions decide everything:
view sees, change edits, pauses and resumes, and running now also needs ``run_schedule``. Every
query reads ``SCHEDULES_DATABASE``.

Importing this package registers ``ScheduleAdmin``, ``ExecutionAdmin`` and ``CalendarAdmin``.
"""

from __future__ import annotations

from django_schedules.admin.calendars import CalendarAdmin, CalendarForm
from django_schedules.admin.display import (
    COUNT_CAP,
    PREVIEW_COUNT,
    RECENT_EXECUTIONS,
    STATUS_STYLE,
    EstimatedCountPaginator,
    SchedulesMedia,
    SortableByChangeList,
    describe_stored,
    moment,
    planner_estimate,
    preview,
    scheduler_panel,
    status_badge,
    when,
)
from django_schedules.admin.executions import ExecutionAdmin, ScheduleLinkFilter
from django_schedules.admin.schedules import LastOutcomeFilter, ScheduleAdmin, SourceFilter
from django_schedules.status import check_health

__all__ = [
    "COUNT_CAP",
    "PREVIEW_COUNT",
    "RECENT_EXECUTIONS",
    "STATUS_STYLE",
    "CalendarAdmin",
    "CalendarForm",
    "EstimatedCountPaginator",
    "ExecutionAdmin",
    "LastOutcomeFilter",
    "ScheduleAdmin",
    "ScheduleLinkFilter",
    "SchedulesMedia",
    "SortableByChangeList",
    "SourceFilter",
    "check_health",
    "describe_stored",
    "moment",
    "planner_estimate",
    "preview",
    "scheduler_panel",
    "status_badge",
    "when",
]
