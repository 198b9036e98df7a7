"""The operators' controls the leader applies by itself: a pause that ends (``paused_until``).

Each change is a conditional UPDATE whose WHERE holds the row as it was read (its version,
still paused, the same end), so two leaders, or a leader and an operator's edit, settle who
acts by the row count: the schedule resumes exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F

from django_schedules.models import Schedule
from django_schedules.store.transactions import notify_change, retry, write_transaction


@dataclass(frozen=True)
class ExpiredPause:
    """A paused schedule whose ``paused_until`` has come, as the leader read it."""

    pk: int
    version: int
    job_id: str
    trigger: dict[str, object]
    paused_until: datetime


def expired_pauses(now: datetime, limit: int, using: str) -> list[ExpiredPause]:
    """Up to `limit` paused schedules whose pause ended at or before `now`, earliest first
    (index schedules_paused_until_idx)."""
    rows = (
        Schedule.objects.using(using)
        .filter(enabled=False, paused_until__lte=now)
        .order_by("paused_until")
        .values_list("pk", "version", "job_id", "trigger", "paused_until")[:limit]
    )
    return [
        ExpiredPause(pk, version, job_id, trigger, until)
        for pk, version, job_id, trigger, until in rows
        if until is not None
    ]


def end_pause(pause: ExpiredPause, next_run_at: datetime | None, now: datetime, using: str) -> bool:
    """Resume `pause`'s schedule from `next_run_at`. False: the row changed since it was read
    (resumed, re-paused or edited by someone else), and nothing was written."""

    def attempt() -> bool:
        with write_transaction(using):
            moved = (
                Schedule.objects.using(using)
                .filter(
                    pk=pause.pk,
                    version=pause.version,
                    enabled=False,
                    paused_until=pause.paused_until,
                )
                .update(
                    enabled=True,
                    pause_reason="",
                    paused_until=None,
                    next_run_at=next_run_at,
                    version=F("version") + 1,
                    updated_at=now,
                )
            )
            if moved:
                notify_change(using)
            return moved == 1

    return retry(attempt, using=using)
