"""Daylight saving: Debian cron's rule, checked by example and against a brute-force reference.

The rule (docs/triggers.md): a fixed-time expression (minute and hour both fixed, neither
starting with '*') fires at the first instant after a spring-forward gap when its time falls in
the gap, and once, at the first occurrence, in a repeated hour. Any other expression follows the
clock: a time in the gap does not happen; a time in the repeated hour happens twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_schedules.triggers import (
    CalendarIntervalTrigger,
    CronTrigger,
    DateTrigger,
    IntervalTrigger,
    describe_dst,
)
from tests.triggers.helpers import ZONES, isos, rt, transitions, utc, wall_is_real


def fires(trigger: CronTrigger, now: datetime, count: int) -> list[str]:
    return isos(rt(trigger).fire_times(now, count))


# -- fixed-time expressions: Debian cron's rule ---------------------------------------------


def test_it_fires_once_in_the_repeated_hour() -> None:
    # Berlin falls back on 2024-10-27: after 02:59:59+02:00 comes 02:00:00+01:00, so 02:30
    # happens twice. Our rule: fire at the first one only.
    trigger = CronTrigger.from_crontab("30 2 * * *", timezone="Europe/Berlin")
    assert fires(trigger, utc(2024, 10, 26, 23), 2) == [
        "2024-10-27T02:30:00+02:00",
        "2024-10-28T02:30:00+01:00",
    ]


def test_it_fires_after_the_gap_when_the_time_is_skipped() -> None:
    # Berlin springs forward on 2024-03-31: 02:00+01:00 becomes 03:00+02:00, so 02:30 never
    # happens; a fixed-time schedule fires at 03:00, the first instant after the gap.
    trigger = CronTrigger.from_crontab("30 2 * * *", timezone="Europe/Berlin")
    assert fires(trigger, utc(2024, 3, 30, 12), 3) == [
        "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:30:00+02:00",
        "2024-04-02T02:30:00+02:00",
    ]


def test_it_fires_at_the_first_instant_after_a_gap_when_now_is_that_instant() -> None:
    # Same Berlin gap: asked at exactly 03:00+02:00 (01:00 UTC), 02:30's stand-in is now.
    trigger = CronTrigger.from_crontab("30 2 * * *", timezone="Europe/Berlin")
    assert fires(trigger, utc(2024, 3, 31, 1), 1) == ["2024-03-31T03:00:00+02:00"]
    assert fires(trigger, utc(2024, 3, 31, 1, 0, 1), 1) == ["2024-04-01T02:30:00+02:00"]


def test_two_times_in_one_gap_fire_once() -> None:
    # Berlin 2024-03-31: 02:00 and 02:30 both fall in the gap and both move to 03:00, as does
    # 03:00 itself; one firing.
    trigger = CronTrigger.from_crontab("0,30 2,3 * * *", timezone="Europe/Berlin")
    assert fires(trigger, utc(2024, 3, 30, 23), 3) == [
        "2024-03-31T03:00:00+02:00",
        "2024-03-31T03:30:00+02:00",
        "2024-04-01T02:00:00+02:00",
    ]


def test_new_york_fixed_time_in_both_transitions() -> None:
    # New York springs forward on 2024-03-10 (02:00-05:00 -> 03:00-04:00) and falls back on
    # 2024-11-03 (02:00-04:00 -> 01:00-05:00, so 01:xx happens twice).
    spring = CronTrigger.from_crontab("30 2 * * *", timezone="America/New_York")
    assert fires(spring, utc(2024, 3, 9, 12), 2) == [
        "2024-03-10T03:00:00-04:00",
        "2024-03-11T02:30:00-04:00",
    ]
    autumn = CronTrigger(hour=1, minute=30, timezone="America/New_York")
    assert fires(autumn, utc(2024, 11, 2, 12), 2) == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-04T01:30:00-05:00",
    ]


def test_lord_howe_half_hour_shift() -> None:
    # Lord Howe Island shifts by 30 minutes: on 2024-10-06 02:00+10:30 becomes 02:30+11:00,
    # and on 2024-04-07 02:00+11:00 becomes 01:30+10:30 (01:30-01:59 happen twice).
    spring = CronTrigger.from_crontab("15 2 * * *", timezone="Australia/Lord_Howe")
    assert fires(spring, utc(2024, 10, 5), 2) == [
        "2024-10-06T02:30:00+11:00",
        "2024-10-07T02:15:00+11:00",
    ]
    autumn = CronTrigger.from_crontab("45 1 * * *", timezone="Australia/Lord_Howe")
    assert fires(autumn, utc(2024, 4, 6), 2) == [
        "2024-04-07T01:45:00+11:00",
        "2024-04-08T01:45:00+10:30",
    ]


def test_santiago_transitions_at_midnight() -> None:
    # Santiago springs forward at midnight on 2024-09-08 (00:00-04:00 -> 01:00-03:00) and
    # falls back on 2024-04-07 (00:00-03:00 -> 2024-04-06 23:00-04:00).
    midnight = CronTrigger(hour=0, timezone="America/Santiago")
    assert fires(midnight, utc(2024, 9, 7, 12), 2) == [
        "2024-09-08T01:00:00-03:00",
        "2024-09-09T00:00:00-03:00",
    ]
    late = CronTrigger.from_crontab("30 23 * * *", timezone="America/Santiago")
    assert fires(late, utc(2024, 4, 6, 12), 2) == [
        "2024-04-06T23:30:00-03:00",
        "2024-04-07T23:30:00-04:00",
    ]


def test_kolkata_has_no_transitions() -> None:
    # Asia/Kolkata has been +05:30 all year since 1945.
    trigger = CronTrigger.from_crontab("30 2 * * *", timezone="Asia/Kolkata")
    assert fires(trigger, utc(2024, 3, 29, 12), 2) == [
        "2024-03-30T02:30:00+05:30",
        "2024-03-31T02:30:00+05:30",
    ]


# -- other expressions follow the clock -------------------------------------------------------


def test_an_hourly_expression_fires_in_both_passes_of_the_repeated_hour() -> None:
    # Berlin 2024-10-27 falls back at 03:00+02:00 -> 02:00+01:00.
    trigger = CronTrigger.from_crontab("*/30 * * * *", timezone="Europe/Berlin")
    assert fires(trigger, utc(2024, 10, 26, 23), 8) == [
        "2024-10-27T01:00:00+02:00",
        "2024-10-27T01:30:00+02:00",
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:30:00+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T02:30:00+01:00",
        "2024-10-27T03:00:00+01:00",
        "2024-10-27T03:30:00+01:00",
    ]


def test_an_hourly_expression_skips_the_gap() -> None:
    # Berlin 2024-03-31 springs forward at 02:00+01:00 -> 03:00+02:00.
    trigger = CronTrigger.from_crontab("*/30 * * * *", timezone="Europe/Berlin")
    assert fires(trigger, utc(2024, 3, 31), 4) == [
        "2024-03-31T01:00:00+01:00",
        "2024-03-31T01:30:00+01:00",
        "2024-03-31T03:00:00+02:00",
        "2024-03-31T03:30:00+02:00",
    ]


def test_a_time_in_the_gap_does_not_happen_for_a_range_of_minutes() -> None:
    # Berlin 2024-03-31: '*/15 2 * * *' (minute starts with '*') names only gap times today.
    trigger = CronTrigger.from_crontab("*/15 2 * * *", timezone="Europe/Berlin")
    assert fires(trigger, utc(2024, 3, 30, 12), 2) == [
        "2024-04-01T02:00:00+02:00",
        "2024-04-01T02:15:00+02:00",
    ]


def test_starting_inside_the_second_pass_of_a_repeated_hour() -> None:
    # Berlin 2024-10-27: 00:40 UTC is 02:40+02:00 (first pass), 01:10 UTC is 02:10+01:00.
    hourly = CronTrigger.from_crontab("20 * * * *", timezone="Europe/Berlin")
    assert fires(hourly, utc(2024, 10, 27, 1, 10), 2) == [
        "2024-10-27T02:20:00+01:00",
        "2024-10-27T03:20:00+01:00",
    ]
    assert fires(hourly, utc(2024, 10, 27, 0, 10), 3) == [
        "2024-10-27T02:20:00+02:00",
        "2024-10-27T02:20:00+01:00",
        "2024-10-27T03:20:00+01:00",
    ]
    fixed = CronTrigger.from_crontab("20 2 * * *", timezone="Europe/Berlin")
    assert fires(fixed, utc(2024, 10, 27, 1, 10), 1) == ["2024-10-28T02:20:00+01:00"]


def test_lord_howe_hourly_expression_in_both_transitions() -> None:
    # Lord Howe 2024-04-07: 02:00+11:00 -> 01:30+10:30; 2024-10-06: 02:00+10:30 -> 02:30+11:00.
    trigger = CronTrigger.from_crontab("*/30 * * * *", timezone="Australia/Lord_Howe")
    assert fires(trigger, utc(2024, 4, 6, 14), 4) == [
        "2024-04-07T01:00:00+11:00",
        "2024-04-07T01:30:00+11:00",
        "2024-04-07T01:30:00+10:30",
        "2024-04-07T02:00:00+10:30",
    ]
    assert fires(trigger, utc(2024, 10, 5, 14, 30), 3) == [
        "2024-10-06T01:00:00+10:30",
        "2024-10-06T01:30:00+10:30",
        "2024-10-06T02:30:00+11:00",
    ]


# -- date, calendar and interval triggers -------------------------------------------------------


def test_date_and_calendar_triggers_are_fixed_time() -> None:
    # Berlin 2024-03-31 02:30 does not exist; 2024-10-27 02:30 happens twice.
    gap = rt(DateTrigger("2024-03-31 02:30", timezone="Europe/Berlin"))
    assert gap.run_date.isoformat() == "2024-03-31T03:00:00+02:00"
    repeat = rt(DateTrigger("2024-10-27 02:30", timezone="Europe/Berlin"))
    assert repeat.run_date.isoformat() == "2024-10-27T02:30:00+02:00"
    second = rt(DateTrigger(datetime(2024, 10, 27, 2, 30, fold=1), timezone="Europe/Berlin"))
    assert second.run_date.isoformat() == "2024-10-27T02:30:00+01:00"
    daily = rt(
        CalendarIntervalTrigger(
            days=1, hour=2, minute=30, start_date="2024-03-30", timezone="Europe/Berlin"
        )
    )
    assert isos(daily.fire_times(utc(2024, 3, 29), 3)) == [
        "2024-03-30T02:30:00+01:00",
        "2024-03-31T03:00:00+02:00",
        "2024-04-01T02:30:00+02:00",
    ]
    assert isos(daily.fire_times(utc(2024, 10, 26, 12), 2)) == [
        "2024-10-27T02:30:00+02:00",
        "2024-10-28T02:30:00+01:00",
    ]


def test_interval_triggers_count_elapsed_time_across_dst() -> None:
    # Berlin 2024-03-31 02:00+01:00 -> 03:00+02:00: 24 hours after midnight on the 31st is
    # 01:00 local on 1 April.
    trigger = rt(IntervalTrigger(hours=24, start_date="2024-03-30 00:00", timezone="Europe/Berlin"))
    assert isos(trigger.fire_times(utc(2024, 3, 29), 3)) == [
        "2024-03-30T00:00:00+01:00",
        "2024-03-31T00:00:00+01:00",
        "2024-04-01T01:00:00+02:00",
    ]


# -- describe_dst: the admin's preview notes --------------------------------------------------


def test_describe_dst_names_a_moved_time_and_a_repeated_hour() -> None:
    # Berlin: gap on 2024-03-31 02:00 -> 03:00; repeat on 2024-10-27 03:00 -> 02:00.
    fixed = rt(CronTrigger.from_crontab("30 2 * * *", timezone="Europe/Berlin"))
    (moved,) = fixed.fire_times(utc(2024, 3, 31), 1)
    assert describe_dst(fixed, moved) == (
        "02:30 does not exist on 2024-03-31 in Europe/Berlin (clocks go forward from 02:00 "
        "to 03:00); it runs at 03:00 instead"
    )
    (first,) = fixed.fire_times(utc(2024, 10, 27), 1)
    note = describe_dst(fixed, first)
    assert note is not None and "happens twice" in note and "first time" in note
    hourly = rt(CronTrigger.from_crontab("30 * * * *", timezone="Europe/Berlin"))
    second = hourly.fire_times(utc(2024, 10, 27, 0, 45), 1)[0]
    assert second.isoformat() == "2024-10-27T02:30:00+01:00"
    note = describe_dst(hourly, second)
    assert note is not None and "second time" in note and "fires in both" in note
    assert describe_dst(fixed, fixed.fire_times(utc(2024, 6, 1), 1)[0]) is None
    # An hourly schedule whose 03:00 is a plain 03:00 was not moved.
    top = rt(CronTrigger.from_crontab("0 * * * *", timezone="Europe/Berlin"))
    assert describe_dst(top, datetime(2024, 3, 31, 1, tzinfo=UTC)) is None


# -- the brute-force reference ----------------------------------------------------------------


def reference(
    match: Callable[[datetime], bool], fixed: bool, zone: str, start: datetime, end: datetime
) -> list[str]:
    """Fire times in [start, end] by the documented rule, minute by minute (slow, obvious)."""
    tz = ZoneInfo(zone)
    minute = timedelta(minutes=1)
    found: list[datetime] = []
    if not fixed:  # every real instant whose wall time matches
        moment = start
        while moment <= end:
            local = moment.astimezone(tz)
            if match(local.replace(tzinfo=None)):
                found.append(local)
            moment += minute
        return isos(found)
    # Fixed time: walk the wall clock; a wall time in a gap moves to the first real wall time
    # after it; a repeated wall time means its first occurrence.
    wall = start.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3)
    last = end.astimezone(tz).replace(tzinfo=None) + timedelta(hours=3)
    while wall <= last:
        if match(wall):
            real = wall
            while not wall_is_real(real, zone):
                real += minute
            moment = real.replace(tzinfo=tz, fold=0)
            if start <= moment <= end and (not found or moment != found[-1]):
                found.append(moment)
        wall += minute
    return isos(sorted(set(found), key=lambda t: t.astimezone(UTC)))


def field(lo: int, hi: int, hot: list[int]) -> st.SearchStrategy[tuple[str, frozenset[int]]]:
    """A crontab field as (text, values), leaning on the hours and minutes DST touches."""
    value = st.one_of(st.sampled_from(hot), st.integers(lo, hi))
    single = value.map(lambda v: (str(v), frozenset([v])))
    ranged = st.tuples(value, st.integers(1, 6), st.integers(1, 3)).map(
        lambda t: (
            f"{t[0]}-{min(hi, t[0] + t[1])}" + (f"/{t[2]}" if t[2] > 1 else ""),
            frozenset(range(t[0], min(hi, t[0] + t[1]) + 1, t[2])),
        )
    )
    starred = st.integers(1, 30).map(
        lambda n: ("*" if n == 1 else f"*/{n}", frozenset(range(lo, hi + 1, n)))
    )
    listed = st.lists(st.one_of(single, ranged), min_size=2, max_size=3).map(
        lambda items: (",".join(t for t, _ in items), frozenset().union(*(v for _, v in items)))
    )
    return st.one_of(single, single, ranged, listed, starred)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from([z for z in ZONES if z not in ("UTC", "Asia/Kolkata")]),
    minute=field(0, 59, [0, 15, 30, 45, 59]),
    hour=field(0, 23, [0, 1, 2, 3, 23]),
    which=st.integers(0, 3),
    spread=st.integers(-3 * 60, 3 * 60),
)
def test_it_agrees_with_the_brute_force_reference_around_transitions(
    zone: str,
    minute: tuple[str, frozenset[int]],
    hour: tuple[str, frozenset[int]],
    which: int,
    spread: int,
) -> None:
    (minute_text, minutes), (hour_text, hours) = minute, hour
    transition = [t for t in transitions(zone) if t.year in (2024, 2025)][which]
    start = transition + timedelta(minutes=spread) - timedelta(hours=4)
    end = start + timedelta(hours=8)
    trigger = rt(CronTrigger.from_crontab(f"{minute_text} {hour_text} * * *", timezone=zone))
    fixed = not minute_text.startswith("*") and not hour_text.startswith("*")
    assert trigger.fixed_time is fixed
    expected = reference(lambda w: w.minute in minutes and w.hour in hours, fixed, zone, start, end)
    got = [t for t in trigger.fire_times(start, 500) if t <= end]
    assert isos(got) == expected


@pytest.mark.parametrize("zone", ZONES)
def test_keyword_seconds_follow_the_same_rule(zone: str) -> None:
    # Every 20 seconds during 02:xx (minute '*' is not fixed) against the reference, walking
    # seconds instead of minutes, over each 2024 transition of the zone.
    trigger = rt(CronTrigger(hour="2", minute="*", second="*/20", timezone=zone))
    tz = ZoneInfo(zone)
    for transition in [t for t in transitions(zone) if t.year == 2024]:
        start, end = transition - timedelta(hours=3), transition + timedelta(hours=3)
        expected = []
        moment = start
        while moment <= end:
            local = moment.astimezone(tz)
            if local.hour == 2 and local.second % 20 == 0:
                expected.append(local.isoformat())
            moment += timedelta(seconds=10)
        got = [t.isoformat() for t in trigger.fire_times(start, 2000) if t <= end]
        assert got == expected
