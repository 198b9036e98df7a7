from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from django_schedules.clock import ManualClock
from django_schedules.models import MisfirePolicy, Schedule

from .helpers import admin_client, admin_url, drive, fires, manual_scheduler, schedule_form

NOW = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
OUTAGE = timedelta(minutes=10)

# job id -> what staff set in the admin's "When things go wrong" section.
EDITS = {
    "coalesce": {"misfire_policy": "run_once", "misfire_grace_time": "30"},
    "skip": {"misfire_policy": "skip", "misfire_grace_time": "30"},
    "backfill": {"misfire_policy": "run_all", "misfire_grace_time": "30", "max_instances": "20"},
    "patient": {"misfire_policy": "skip", "misfire_grace_time": "900", "max_instances": "20"},
}


@pytest.mark.django_db
def test_grace_time_coalescing_and_missed_runs_are_set_per_schedule_in_the_admin() -> None:
    """Misfire handling is a per-schedule setting that staff edit in the admin.

    The issue's item 16, following Koed00/django-q#577 and jcass77/django-apscheduler#149: what
    to do with missed runs is decided in code, or not at all, and staff cannot change it. Here
    four every-minute schedules are given, in the admin's change form, their own grace time and
    policy: coalesce (``run_once``, APScheduler's ``coalesce=True``), ``skip``, ``run_all``, and
    a grace time longer than the outage. After a 10-minute outage each follows its own setting.
    """
    client = admin_client()
    page = client.get(admin_url("schedule_add")).content.decode()
    for field in ("misfire_policy", "misfire_grace_time", "max_instances"):
        assert f'name="{field}"' in page, field
    for policy in MisfirePolicy.values:
        assert f'value="{policy}"' in page, policy
    for job_id, edit in EDITS.items():
        form = schedule_form(
            job_id,
            "scenarios.echo",
            {},
            trigger_kind="interval",
            interval_minutes="1",
            start_date=NOW,  # a future start: the first run is at NOW
        )
        response = client.post(admin_url("schedule_add"), form)
        assert response.status_code == 302 and "login" not in response["Location"]
        pk = Schedule.objects.get(job_id=job_id).pk
        response = client.post(admin_url("schedule_change", pk), {**form, **edit})
        assert response.status_code == 302, response.content.decode()[:2000]
    stored = {
        s.job_id: (s.misfire_policy, s.misfire_grace_time, s.max_instances)
        for s in Schedule.objects.all()
    }
    assert stored == {
        "coalesce": ("run_once", 30, 1),
        "skip": ("skip", 30, 1),
        "backfill": ("run_all", 30, 20),
        "patient": ("skip", 900, 20),
    }
    clock = ManualClock(NOW + OUTAGE)  # the scheduler comes back after 10 minutes
    drive(manual_scheduler(clock), clock, NOW + OUTAGE)
    seen = {job_id: Counter((e.kind, e.status) for e in fires(job_id)) for job_id in EDITS}
    # 11 occurrences (12:00 to 12:10); the last is on time in every case.
    assert seen == {
        # The 10 missed are one "missed" row; the on-time run stands for them.
        "coalesce": {("scheduled", "missed"): 1, ("scheduled", "succeeded"): 1},
        "skip": {("scheduled", "missed"): 1, ("scheduled", "succeeded"): 1},
        # Each missed one runs.
        "backfill": {("catch_up", "succeeded"): 10, ("scheduled", "succeeded"): 1},
        # Within the grace time nothing is missed: each runs as scheduled.
        "patient": {("scheduled", "succeeded"): 11},
    }
    (gap,) = fires("skip", status="missed")
    assert gap.reason == (
        "10 occurrences missed from 2030-01-07T12:00:00+00:00 to 2030-01-07T12:09:00+00:00"
    )
