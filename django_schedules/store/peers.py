"""Reads of peer apps' tables, for ``importschedules`` (each on the peer app's database)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def celery_beat_tasks() -> list[Any]:
    """django-celery-beat's PeriodicTask rows with their schedules."""
    from django_celery_beat.models import PeriodicTask

    return list(
        PeriodicTask.objects.select_related("interval", "crontab", "solar", "clocked").order_by(
            "name"
        )
    )


def apscheduler_job_ids() -> list[tuple[str, datetime | None]]:
    """django-apscheduler's job ids and next run times. Never its pickled ``job_state``."""
    from django_apscheduler.models import DjangoJob  # type: ignore[import-not-found]

    return list(DjangoJob.objects.order_by("id").values_list("id", "next_run_time"))
