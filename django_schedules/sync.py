"""``SCHEDULES_JOBS``: schedules declared in settings, made to match the database.

``SCHEDULES_JOBS`` maps a job id to the keyword arguments ``add_job`` takes::

    SCHEDULES_JOBS = {
        "digest": {"func": "reports.jobs.send_digest", "trigger": "cron", "hour": 9, "minute": 30},
    }

A sync (``manage.py syncschedules``, and the scheduler at start-up) creates what is new, updates
what changed, and disables (never deletes, so history stays) what was removed. Schedules made in
the admin or by code are left alone, even when a declared id collides with one (that is
reported as a conflict).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django_schedules import store
from django_schedules.api import build_schedule, changed_fields, first_run
from django_schedules.changes import REMOVED_FROM_SETTINGS, announce
from django_schedules.changes import now as _now
from django_schedules.conf import conf
from django_schedules.exceptions import InvalidSchedule, SchedulesError
from django_schedules.models import Schedule, ScheduleSource
from django_schedules.store import SyncPlan

__all__ = ["REMOVED_FROM_SETTINGS", "SyncPlan", "declared_errors", "sync_schedules"]

# add_job arguments that make no sense for a declaration re-applied at every start-up.
NOT_ALLOWED = {
    "id": "the job id is the entry's key",
    "replace_existing": "a sync always updates its own schedules",
    "next_run_time": "it would be re-applied at every sync; pause in the admin instead",
    "jobstore": "there is one store, the database",
    "pause_reason": "a pause is the operators' to give: pause_job or the admin",
    "paused_until": "a pause is the operators' to give: pause_job or the admin",
}


@dataclass(frozen=True)
class DeclaredError:
    job_id: str
    message: str

    def __str__(self) -> str:
        return f"SCHEDULES_JOBS[{self.job_id!r}]: {self.message}"


def _entry_problem(job_id: object, entry: object) -> str | None:
    if not isinstance(job_id, str) or not job_id.strip():
        return f"the key must be a non-empty string (the job id), got {job_id!r}"
    if not isinstance(entry, Mapping):
        return f"must be a dict of add_job keyword arguments, got {entry!r}"
    for key, why in NOT_ALLOWED.items():
        if key in entry:
            return f"{key!r} may not be given ({why}), got {key}={entry[key]!r}"
    if "func" not in entry:
        return "'func' is required: the registered name of the job to run"
    return None


def _build(job_id: str, entry: Mapping[str, Any], now: datetime) -> Schedule:
    return build_schedule(id=job_id, source=ScheduleSource.SETTINGS, now=now, **entry)


def declared_schedules(
    jobs: object, now: datetime
) -> tuple[dict[str, Schedule], list[DeclaredError]]:
    """Build every declared schedule; return them by id, and the entries that are invalid."""
    if not isinstance(jobs, Mapping):
        return {}, [DeclaredError("*", f"SCHEDULES_JOBS must be a dict, got {jobs!r}")]
    schedules: dict[str, Schedule] = {}
    errors: list[DeclaredError] = []
    for job_id, entry in jobs.items():
        problem = _entry_problem(job_id, entry)
        if problem is None:
            try:
                schedules[job_id] = _build(job_id, entry, now)
            except (SchedulesError, TypeError) as exc:
                problem = str(exc)
        if problem is not None:
            errors.append(DeclaredError(str(job_id), problem))
    return schedules, errors


def declared_errors(jobs: object | None = None) -> list[DeclaredError]:
    """The invalid entries of ``SCHEDULES_JOBS`` (or ``jobs``), without touching the database."""
    return declared_schedules(conf.SCHEDULES_JOBS if jobs is None else jobs, _now())[1]


def _phase_free(entry: Mapping[str, Any]) -> bool:
    """True when the declaration leaves the start date open (the API pins it from now)."""
    trigger = entry.get("trigger")
    if trigger is None or isinstance(trigger, str):
        return entry.get("start_date") is None
    return getattr(trigger, "start_date", False) is None


def sync_schedules(
    jobs: Mapping[str, Mapping[str, Any]] | None = None, *, dry_run: bool = False
) -> SyncPlan:
    """Make the database match ``SCHEDULES_JOBS`` (or ``jobs``); return what was done.

    Validates every entry first: one invalid entry raises InvalidSchedule naming each bad
    entry, and nothing is written. With ``dry_run`` the plan is computed, and nothing written.
    """
    from django_schedules.triggers import trigger_from_dict

    entries: Any = conf.SCHEDULES_JOBS if jobs is None else jobs
    now = _now()
    declared, errors = declared_schedules(entries, now)
    if errors:
        raise InvalidSchedule("; ".join(str(error) for error in errors))

    def plan(rows: dict[str, Schedule]) -> SyncPlan:
        result = SyncPlan()
        for job_id, wanted in declared.items():
            row = rows.get(job_id)
            if row is None:
                result.create.append(wanted)
                continue
            if row.source != ScheduleSource.SETTINGS:
                result.conflicts.append(job_id)
                continue
            fields = changed_fields(row, wanted, _phase_free(entries[job_id]))
            for name in fields:
                setattr(row, name, getattr(wanted, name))
            if "trigger" in fields:
                fields.append("next_run_at")
                row.next_run_at = wanted.next_run_at
            if not row.enabled and row.last_error == REMOVED_FROM_SETTINGS:
                row.enabled, row.last_error = True, ""  # declared again: back on
                fields += ["enabled", "last_error"]
                if "next_run_at" not in fields:  # from now, on the beat it has
                    fields.append("next_run_at")
                    row.next_run_at = first_run(trigger_from_dict(row.trigger), now)
            if fields:
                result.update.append((row, fields))
            else:
                result.unchanged.append(job_id)
        for job_id, row in sorted(rows.items()):
            if row.source == ScheduleSource.SETTINGS and job_id not in declared and row.enabled:
                row.enabled, row.last_error = False, REMOVED_FROM_SETTINGS
                result.disable.append(row)
        return result

    with store.write_transaction() as alias:  # the rows stay locked from the plan to its write
        result = plan(store.locked_sync_rows(declared, alias))
        if not dry_run:
            store.apply_sync_plan(result, alias)
    if not dry_run:
        for schedule in [*result.create, *(row for row, _ in result.update), *result.disable]:
            announce(schedule, "synced")
    return result
