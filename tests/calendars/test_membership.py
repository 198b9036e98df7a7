"""The exclusion calendars' pure math (django_schedules.calendars): membership by wall clock,
the first free instant, DST gaps and folds, and every bad entry refused naming its field."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_schedules import calendars
from django_schedules.exceptions import InvalidSchedule

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


CAL = calendars.build(
    "ops",
    timezone="Europe/Berlin",
    dates=[date(2026, 12, 23)],  # a Wednesday
    ranges=[("2026-08-03", "2026-08-05"), ("2026-06-01T09:00", "2026-06-01T17:30")],
    weekly=["sat 00:00-06:00", "fri 22:00-02:00"],
    yearly=["01-01", "02-29"],
)


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ("2026-12-23T00:00", True),  # a single day, from midnight
        ("2026-12-23T23:59:59", True),
        ("2026-12-24T00:00", False),  # to the next midnight, exclusive
        ("2026-12-22T23:59:59", False),
        ("2026-08-03T00:00", True),  # a date range covers both ends whole (Monday-Wednesday)
        ("2026-08-05T23:59", True),
        ("2026-08-06T00:00", False),
        ("2026-06-01T09:00", True),  # a datetime range is half open
        ("2026-06-01T17:29:59", True),
        ("2026-06-01T17:30", False),
        ("2026-12-05T05:59:59", True),  # Saturday 00:00-06:00
        ("2026-12-05T06:00", False),
        ("2026-12-04T22:00", True),  # Friday 22:00 to Saturday 02:00
        ("2026-12-04T21:59", False),
        ("2026-12-11T01:30", False),  # a Friday 01:30 is not inside
        ("2027-01-01T12:00", True),  # yearly
        ("2028-02-29T12:00", True),  # 02-29 in a leap year
        ("2027-03-01T12:00", False),
        ("2026-12-07T12:00", False),  # a plain Monday
    ],
)  # fmt: skip
def test_membership_by_the_calendars_wall_clock(local: str, inside: bool) -> None:
    assert CAL.covers(at(local)) is inside
    assert CAL.covers(at(local).astimezone(UTC)) is inside  # the same instant in UTC


@pytest.mark.parametrize(
    ("local", "free"),
    [
        ("2026-12-07T12:00", "2026-12-07T12:00"),  # outside: itself
        ("2026-12-05T03:00", "2026-12-05T06:00"),  # Saturday's window
        ("2026-12-04T23:00", "2026-12-05T06:00"),  # Friday's night runs into Saturday's
        # 12-31 is free... 2027-01-01 (yearly) is a Friday, then Friday night, then Saturday.
        ("2027-01-01T10:00", "2027-01-02T06:00"),
        ("2026-08-04T10:00", "2026-08-06T00:00"),  # to the range's end
    ],
)
def test_free_from_jumps_over_adjacent_entries(local: str, free: str) -> None:
    assert calendars.free_from([CAL], at(local)) == at(free).astimezone(UTC)


def test_a_window_in_a_spring_forward_gap_covers_only_the_wall_times_that_exist() -> None:
    # 2026-03-29, Berlin: 02:00 CET jumps to 03:00 CEST. The window 01:00-02:30 ends at 03:00.
    gap = calendars.build("g", timezone="Europe/Berlin", weekly=["sun 01:00-02:30"])
    assert gap.covers(at("2026-03-29T01:59:59"))
    assert not gap.covers(datetime(2026, 3, 29, 1, 0, tzinfo=UTC))  # 03:00 CEST
    assert calendars.free_from([gap], at("2026-03-29T01:30")) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    # A window wholly inside the gap covers nothing that day.
    inside = calendars.build("i", timezone="Europe/Berlin", weekly=["sun 02:10-02:50"])
    moments = [datetime(2026, 3, 29, 0, 0, tzinfo=UTC) + timedelta(minutes=m) for m in range(120)]
    assert not any(inside.covers(m) for m in moments)


def test_a_window_in_a_fall_back_fold_is_inside_on_both_passes() -> None:
    # 2026-10-25, Berlin: 03:00 CEST falls back to 02:00 CET; 02:00-02:59 happen twice.
    fold = calendars.build("f", timezone="Europe/Berlin", weekly=["sun 02:00-02:30"])
    first = datetime(2026, 10, 25, 0, 10, tzinfo=UTC)  # 02:10 CEST
    second = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 02:10 CET
    between = datetime(2026, 10, 25, 0, 40, tzinfo=UTC)  # 02:40 CEST
    assert fold.covers(first) and fold.covers(second) and not fold.covers(between)
    assert calendars.free_from([fold], first) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert calendars.free_from([fold], second) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


def test_calendars_covering_everything_have_no_free_instant() -> None:
    always = calendars.build("a", weekly=["mon-sun 00:00-24:00"])
    assert calendars.free_from([always], datetime(2026, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("timezone", "Mars/Olympus", "'Mars/Olympus'"),
        ("dates", ["2026-13-01"], "'2026-13-01'"),
        ("dates", "2026-01-01", "must be a list"),
        ("dates", [20260101], "20260101"),
        ("ranges", [("2026-01-05", "2026-01-01")], "before its first"),
        ("ranges", [("2026-01-01T10:00", "2026-01-01T09:00")], "end after it starts"),
        ("ranges", [("2026-01-01", "2026-01-01T09:00")], "both be dates"),
        ("ranges", [("2026-01-01",)], "pairs"),
        ("weekly", ["saturday 00:00-06:00"], "'saturday 00:00-06:00'"),
        ("weekly", ["sat 00:00-25:00"], "'25:00'"),
        ("weekly", ["sat 06:00-06:00"], "empty"),
        ("weekly", ["xyz 01:00-02:00"], "'xyz 01:00-02:00'"),
        ("yearly", ["02-30"], "'02-30'"),
        ("yearly", ["christmas"], "'christmas'"),
    ],
)
def test_a_bad_entry_is_refused_naming_its_field_and_value(field, value, words) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        calendars.build("c", **{field: value})
    assert caught.value.field == field
    assert words in str(caught.value)


@pytest.mark.parametrize("name", ["", " padded", "a" * 101, "semi;colon", None])
def test_a_bad_name_is_refused(name) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        calendars.check_name(name)
    assert caught.value.field == "name"


def test_the_canonical_form_reads_back_the_same() -> None:
    entries = calendars.check_entries(
        "Europe/Berlin",
        [date(2026, 1, 2), "2026-01-01", "2026-01-01"],
        ["2026-02-01/2026-02-03"],
        ["SAT  00:00-06:00"],
        [date(2026, 12, 25), "--01-01"],
    )
    assert entries == {
        "timezone": "Europe/Berlin",
        "dates": ["2026-01-01", "2026-01-02"],
        "ranges": [["2026-02-01", "2026-02-03"]],
        "weekly": ["sat 00:00-06:00"],
        "yearly": ["01-01", "12-25"],
    }
    again = calendars.check_entries(**entries)
    assert again == entries


def test_the_module_imports_no_django() -> None:
    code = "import sys, django_schedules.calendars; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- properties ---

ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
TIMES = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45])
)
WEEKLY = st.builds(
    lambda day, start, end: f"{day} {start}-{end}",
    st.sampled_from(calendars.WEEKDAYS),
    TIMES,
    TIMES,
).filter(lambda entry: entry.split()[1].split("-")[0] != entry.split()[1].split("-")[1])
DAYS = st.dates(date(2025, 1, 1), date(2028, 12, 31))
INSTANTS = st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 31), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(
    zone=ZONES,
    weekly=st.lists(WEEKLY, max_size=4),
    dates=st.lists(DAYS, max_size=4),
    instant=INSTANTS,
)
def test_free_from_is_free_and_every_instant_before_it_is_covered(
    zone, weekly, dates, instant
) -> None:
    cal = calendars.build("p", timezone=zone, weekly=weekly, dates=dates)
    free = calendars.free_from([cal], instant)
    assert free is not None and free >= instant
    assert not cal.covers(free)
    # Everything between is covered: sample it.
    span = free - instant
    for k in range(20 if span else 0):
        assert cal.covers(instant + span * k / 20)


@settings(max_examples=200, deadline=None)
@given(zone=ZONES, weekly=st.lists(WEEKLY, min_size=1, max_size=3), instant=INSTANTS)
def test_weekly_membership_is_the_wall_clock_in_the_zone(zone, weekly, instant) -> None:
    cal = calendars.build("p", timezone=zone, weekly=weekly)
    local = instant.astimezone(ZoneInfo(zone))
    minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7
    inside = False
    for entry in weekly:
        days, span = entry.split()
        start, end = (int(t[:2]) * 60 + int(t[3:]) for t in span.split("-"))
        today = calendars.WEEKDAYS[local.weekday()]
        yesterday = calendars.WEEKDAYS[(local.weekday() - 1) % 7]
        if start < end:
            inside |= days == today and start <= minute < end
        else:
            inside |= (days == today and minute >= start) or (days == yesterday and minute < end)
    assert cal.covers(instant) is inside
