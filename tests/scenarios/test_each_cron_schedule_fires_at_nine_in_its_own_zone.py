from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings

from django_schedules import add_job
from django_schedules.clock import ManualClock

from .helpers import drive, fires, manual_scheduler

NOW = datetime(2030, 6, 3, 0, 0, tzinfo=UTC)


@pytest.mark.django_db
@override_settings(TIME_ZONE="Europe/London")
def test_two_nine_oclock_schedules_fire_at_nine_in_tokyo_and_in_los_angeles() -> None:
    """Each cron schedule fires at 09:00 in its own time zone, not the project's.

    django-q2/django-q2#190: cron schedules follow the project's TIME_ZONE only, so a team
    serving several regions cannot say "09:00 in Tokyo". Here the project is in London; two
    "0 9 * * *" schedules, one in Asia/Tokyo and one in America/Los_Angeles, run for two days
    on a real scheduler with a manual clock: each fires at its own 09:00.
    """
    with time_machine.travel(NOW, tick=False):
        for zone in ("Asia/Tokyo", "America/Los_Angeles"):
            add_job("scenarios.echo", "cron", minute=0, hour=9, timezone=zone, id=zone)
    clock = ManualClock(NOW)
    drive(manual_scheduler(clock), clock, NOW + timedelta(days=2))
    assert [e.fire_time.isoformat() for e in fires("Asia/Tokyo")] == [
        "2030-06-03T00:00:00+00:00",  # 09:00+09:00 on the 3rd
        "2030-06-04T00:00:00+00:00",
        "2030-06-05T00:00:00+00:00",  # the end of the window, inclusive
    ]
    assert [e.fire_time.isoformat() for e in fires("America/Los_Angeles")] == [
        "2030-06-03T16:00:00+00:00",  # 09:00-07:00 (PDT) on the 3rd
        "2030-06-04T16:00:00+00:00",
    ]
    assert {e.status for e in fires("Asia/Tokyo") + fires("America/Los_Angeles")} == {"succeeded"}
