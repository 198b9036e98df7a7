from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from django_schedules import add_job
from django_schedules.clock import ManualClock
from django_schedules.triggers import CronTrigger

from .helpers import drive, fires, manual_scheduler

DOCS = Path(__file__).resolve().parents[2] / "docs"

# (zone, first local day, crontab -> the local fire times over three days around a change).
CASES = {
    # New York springs forward on 2024-03-10: 02:00 EST becomes 03:00 EDT.
    "new-york-spring": (
        "America/New_York",
        "2024-03-09",
        {
            "0 9 * * *": ["03-09T09:00:00-05:00", "03-10T09:00:00-04:00", "03-11T09:00:00-04:00"],
            # 02:30 does not exist on the 10th: a fixed-time job runs at 03:00, once.
            "30 2 * * *": ["03-09T02:30:00-05:00", "03-10T03:00:00-04:00", "03-11T02:30:00-04:00"],
        },
    ),
    # New York falls back on 2024-11-03: 01:00-01:59 happens twice.
    "new-york-fall": (
        "America/New_York",
        "2024-11-02",
        {
            "0 9 * * *": ["11-02T09:00:00-04:00", "11-03T09:00:00-05:00", "11-04T09:00:00-05:00"],
            "30 2 * * *": ["11-02T02:30:00-04:00", "11-03T02:30:00-05:00", "11-04T02:30:00-05:00"],
            # 01:30 happens twice on the 3rd: a fixed-time job runs at the first one only.
            "30 1 * * *": ["11-02T01:30:00-04:00", "11-03T01:30:00-04:00", "11-04T01:30:00-05:00"],
        },
    ),
    # Berlin springs forward on 2024-03-31: 02:00 CET becomes 03:00 CEST.
    "berlin-spring": (
        "Europe/Berlin",
        "2024-03-30",
        {
            "0 9 * * *": ["03-30T09:00:00+01:00", "03-31T09:00:00+02:00", "04-01T09:00:00+02:00"],
            "30 2 * * *": ["03-30T02:30:00+01:00", "03-31T03:00:00+02:00", "04-01T02:30:00+02:00"],
        },
    ),
    # Berlin falls back on 2024-10-27: 02:00-02:59 happens twice.
    "berlin-fall": (
        "Europe/Berlin",
        "2024-10-26",
        {
            "0 9 * * *": ["10-26T09:00:00+02:00", "10-27T09:00:00+01:00", "10-28T09:00:00+01:00"],
            "30 2 * * *": ["10-26T02:30:00+02:00", "10-27T02:30:00+02:00", "10-28T02:30:00+01:00"],
        },
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES)
def test_crontab_schedules_run_at_the_right_wall_clock_hour_when_the_clocks_change(
    case: str,
) -> None:
    """A crontab schedule runs at its wall-clock hour on the days the clocks change.

    celery/django-celery-beat#134 and #194: crontab schedules shift by an hour, or run twice,
    around daylight saving changes. Here each schedule carries its own zone; the scheduler
    fires at 09:00 local on either side of the change, and a 02:30 (or New York 01:30) job
    follows the documented rule (docs/triggers.md, "Daylight saving"): in a spring-forward gap
    it runs at the first instant after the gap, in a repeated hour at the first occurrence
    only. A real scheduler on a manual clock runs every job through the three days.
    """
    zone, first_day, expected = CASES[case]
    tz = ZoneInfo(zone)
    start = datetime.fromisoformat(first_day).replace(tzinfo=tz)
    with time_machine.travel(start, tick=False):
        for crontab in expected:
            add_job("scenarios.echo", CronTrigger.from_crontab(crontab, timezone=zone), id=crontab)
    clock = ManualClock(start)
    drive(manual_scheduler(clock), clock, start + timedelta(days=3) - timedelta(seconds=1))
    year = start.year
    for crontab, local in expected.items():
        runs = fires(crontab)
        assert [e.fire_time.astimezone(tz).isoformat() for e in runs] == [
            f"{year}-{text}" for text in local
        ], crontab
        assert {(e.status, e.kind) for e in runs} == {("succeeded", "scheduled")}, crontab


def test_the_docs_say_what_happens_to_a_0230_job_on_those_days() -> None:
    """celery/django-celery-beat#134: the docs state the rule for a 02:30 job."""
    text = " ".join((DOCS / "triggers.md").read_text().split())
    assert "`30 2 * * *` fires at `03:00+02:00`" in text  # the spring-forward gap
    assert "`30 2 * * *` fires at `02:30+02:00` only" in text  # the repeated hour
