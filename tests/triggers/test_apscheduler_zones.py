"""APScheduler 3 as the reference: a CronTrigger or IntervalTrigger built without `timezone=`
takes the zone of an aware start_date, then of an aware end_date (its own test suite checks
this), and a crontab string's fields are split on spaces and tabs only, as cron splits them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from django_schedules.exceptions import TriggerError
from django_schedules.triggers import CronTrigger, IntervalTrigger

aps_cron = pytest.importorskip("apscheduler.triggers.cron")
aps_interval = pytest.importorskip("apscheduler.triggers.interval")

BERLIN = ZoneInfo("Europe/Berlin")
CHATHAM = ZoneInfo("Pacific/Chatham")  # +12:45 / +13:45: a zone whose shift is not whole hours
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2014, 4, 1, tzinfo=UTC)


def fires(trigger: Any, count: int = 6) -> list[datetime]:
    """The first `count` fire times after NOW, each with its UTC offset (APScheduler's way)."""
    out: list[datetime] = []
    previous = None
    now = NOW
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        out.append(fire)
        previous = now = fire
    return out


def same(ours: list[datetime], theirs: list[datetime]) -> None:
    assert [f.astimezone(UTC) for f in ours] == [f.astimezone(UTC) for f in theirs]
    assert [f.utcoffset() for f in ours] == [f.utcoffset() for f in theirs]


def test_a_cron_trigger_takes_its_aware_start_dates_zone() -> None:
    """APScheduler's own case: 04:00 Berlin, not 04:00 UTC."""
    start = datetime(2014, 4, 13, 5, 30, tzinfo=BERLIN)
    ours = CronTrigger(year=2014, hour=4, start_date=start)
    assert ours.timezone == BERLIN
    assert ours.get_next_fire_time(None, start) == datetime(2014, 4, 14, 4, 0, tzinfo=BERLIN)
    same(fires(ours), fires(aps_cron.CronTrigger(year=2014, hour=4, start_date=start)))


@pytest.mark.parametrize("zone", [BERLIN, CHATHAM, NEW_YORK])
@pytest.mark.parametrize(
    "fields", [{"hour": 4}, {"minute": "*/45", "hour": "1-3"}, {"day": "last", "hour": 23}]
)
def test_a_cron_trigger_zone_comes_from_start_then_end_as_in_apscheduler(
    zone: ZoneInfo, fields: dict[str, Any]
) -> None:
    start = datetime(2014, 3, 20, 5, 30, tzinfo=zone)
    end = datetime(2014, 12, 1, tzinfo=zone)
    for kwargs in (
        {"start_date": start},
        {"end_date": end},
        {"start_date": start, "end_date": end},
    ):
        ours = CronTrigger(**fields, **kwargs)
        assert ours.timezone == zone, kwargs
        same(fires(ours), fires(aps_cron.CronTrigger(**fields, **kwargs)))


def test_an_interval_trigger_reads_a_naive_end_date_in_its_start_dates_zone() -> None:
    start = datetime(2014, 4, 13, 5, 30, tzinfo=BERLIN)
    end = datetime(2014, 4, 13, 8, 30)  # naive: Berlin, as APScheduler reads it (not UTC)
    ours = IntervalTrigger(hours=1, start_date=start, end_date=end)
    theirs = aps_interval.IntervalTrigger(hours=1, start_date=start, end_date=end)
    assert ours.end_date == datetime(2014, 4, 13, 8, 30, tzinfo=BERLIN)
    same(fires(ours), fires(theirs))
    assert len(fires(ours)) == 4  # 05:30, 06:30, 07:30, 08:30 Berlin


@pytest.mark.parametrize("zone", [BERLIN, CHATHAM, NEW_YORK])
def test_an_interval_trigger_zone_comes_from_an_aware_end_date(zone: ZoneInfo) -> None:
    start = datetime(2014, 3, 1, 1, 15)  # naive: read in the end date's zone
    end = datetime(2014, 3, 2, 1, 15, tzinfo=zone)
    ours = IntervalTrigger(hours=5, start_date=start, end_date=end)
    theirs = aps_interval.IntervalTrigger(hours=5, start_date=start, end_date=end)
    assert ours.timezone == zone
    same(fires(ours), fires(theirs))


def test_an_explicit_timezone_wins_over_the_dates_zone() -> None:
    start = datetime(2014, 4, 13, 5, 30, tzinfo=BERLIN)
    ours = CronTrigger(hour=4, start_date=start, timezone="America/New_York")
    assert ours.timezone == NEW_YORK
    theirs = aps_cron.CronTrigger(hour=4, start_date=start, timezone=NEW_YORK)
    same(fires(ours), fires(theirs))


def test_a_start_date_with_a_fixed_offset_keeps_the_default_zone() -> None:
    """A fixed offset has no IANA name to store with the trigger: the instant is kept, the
    zone is the default one (UTC here)."""
    start = datetime(2014, 4, 13, 5, 30, tzinfo=timezone(timedelta(hours=2)))
    ours = IntervalTrigger(hours=1, start_date=start)
    assert ours.timezone == ZoneInfo("UTC")
    assert ours.start_date == start


def test_the_zone_taken_from_a_date_survives_the_dict_round_trip() -> None:
    from django_schedules.triggers import trigger_from_dict

    ours = CronTrigger(hour=4, start_date=datetime(2014, 4, 13, 5, 30, tzinfo=BERLIN))
    again = trigger_from_dict(ours.to_dict())
    assert again.timezone == BERLIN and fires(again) == fires(ours)


@pytest.mark.parametrize("space", ["\u00a0", "\u2003", "\u3000", "\u2028", "\x0b", "\x0c", "\n"])
def test_a_crontab_split_by_any_other_space_is_refused(space: str) -> None:
    with pytest.raises(TriggerError, match=f"spaces or tabs only.*U\\+{ord(space):04X}") as info:
        CronTrigger.from_crontab(f"0{space}0 * * *")
    assert info.value.field == "crontab"


def test_spaces_and_tabs_separate_crontab_fields() -> None:
    assert CronTrigger.from_crontab(" 0\t0  *\t\t* * ").crontab == "0 0 * * *"


def test_a_crontab_string_over_500_characters_is_refused() -> None:
    with pytest.raises(TriggerError, match="is too long"):
        CronTrigger.from_crontab("0 0 * * " + ",".join(["1"] * 250))
