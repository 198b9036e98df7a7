"""The zone a trigger built without ``timezone=`` gets: UTC alone, TIME_ZONE under Django."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from django_schedules.exceptions import TriggerError
from django_schedules.triggers import (
    CalendarIntervalTrigger,
    CronTrigger,
    DateTrigger,
    IntervalTrigger,
    get_default_timezone,
    set_default_timezone,
)

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def berlin_default() -> Iterator[None]:
    before = get_default_timezone()
    set_default_timezone("Europe/Berlin")
    try:
        yield
    finally:
        set_default_timezone(before)


def test_outside_django_the_default_is_utc() -> None:
    code = (
        "from django_schedules.triggers import CronTrigger, get_default_timezone;"
        "print(get_default_timezone().key, CronTrigger(hour=9).timezone.key)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["UTC", "UTC"]


def test_the_test_project_sets_its_time_zone_as_the_default() -> None:
    # tests/settings.py has TIME_ZONE = "UTC"; apps.ready() copied it.
    assert get_default_timezone() == ZoneInfo("UTC")


@pytest.mark.usefixtures("berlin_default")
def test_every_zoned_trigger_takes_the_default_and_reads_naive_dates_in_it() -> None:
    naive = datetime(2025, 7, 1, 9, 0)
    in_berlin = datetime(2025, 7, 1, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert DateTrigger(naive).run_date == in_berlin
    assert IntervalTrigger(hours=1, start_date=naive).start_date == in_berlin
    assert CronTrigger(hour=9).timezone == BERLIN
    assert CronTrigger.from_crontab("0 9 * * *").timezone == BERLIN
    assert CalendarIntervalTrigger(days=1, hour=9).timezone == BERLIN
    fire = CronTrigger(hour=9).get_next_fire_time(None, datetime(2025, 7, 1, 0, 0, tzinfo=UTC))
    assert fire == in_berlin


@pytest.mark.usefixtures("berlin_default")
def test_an_explicit_zone_wins_over_the_default() -> None:
    assert CronTrigger(hour=9, timezone="Asia/Tokyo").timezone == ZoneInfo("Asia/Tokyo")
    assert CronTrigger(hour=9, timezone=UTC).timezone == ZoneInfo("UTC")


def test_a_built_trigger_keeps_its_zone_when_the_default_changes() -> None:
    before = get_default_timezone()
    trigger = CronTrigger(hour=9)
    set_default_timezone("Asia/Tokyo")
    try:
        assert trigger.timezone == before
        assert trigger.to_dict()["timezone"] == before.key
    finally:
        set_default_timezone(before)


def test_a_bad_default_is_refused_naming_the_value() -> None:
    before = get_default_timezone()
    with pytest.raises(TriggerError, match="'Mars/Olympus'"):
        set_default_timezone("Mars/Olympus")
    assert get_default_timezone() == before
    set_default_timezone(None)
    assert get_default_timezone() == ZoneInfo("UTC")
    set_default_timezone(before)
