"""What the API and the ``SCHEDULES_JOBS`` sync share when they change schedules: the clock they
read, the signal they send on commit, and the mark a sync leaves on a schedule it disabled.

Both import this module; neither imports the other's private parts (the sync imports the API,
never the reverse).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from django.db import transaction
from django.utils import timezone as dj_timezone

from django_schedules import store
from django_schedules.models import Schedule
from django_schedules.signals import schedule_changed

# The ``last_error`` of a settings schedule that left SCHEDULES_JOBS: the sync writes it when it
# disables the schedule; a sync that finds it declared again, and resume_job, clear it.
REMOVED_FROM_SETTINGS: Final = (
    "Removed from SCHEDULES_JOBS: disabled by syncschedules (history kept)."
)


def now() -> datetime:
    return dj_timezone.now().astimezone(UTC)


def announce(schedule: Schedule, action: str) -> None:
    """Send schedule_changed once the change commits (at once outside a transaction)."""
    transaction.on_commit(
        lambda: schedule_changed.send(
            sender=Schedule, schedule=schedule, job_id=schedule.job_id, action=action
        ),
        using=store.database_alias(),
    )
