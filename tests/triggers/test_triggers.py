"""DateTrigger, IntervalTrigger, CalendarIntervalTrigger, AndTrigger, OrTrigger, serialisation."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from django_schedules.exceptions import TriggerError
from django_schedules.triggers import (
    AndTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
    DateTrigger,
    IntervalTrigger,
    OrTrigger,
    trigger_from_dict,
)
from tests.triggers.helpers import isos, rt, utc

NOW = datetime(2026, 1, 1, tzinfo=UTC)

# -- DateTrigger ---------------------------------------------------------------------------------


def test_a_date_trigger_fires_once() -> None:
    trigger = rt(DateTrigger("2026-04-15 17:30:05", timezone="Europe/Berlin"))
    assert trigger.run_date.isoformat() == "2026-04-15T17:30:05+02:00"
    first = trigger.get_next_fire_time(None, NOW)
    assert first == trigger.run_date
    assert trigger.get_next_fire_time(first, NOW) is None
    assert trigger.describe() == "Once, at 2026-04-15 17:30:05 (Europe/Berlin)"
    assert trigger.start_date == trigger.end_date == trigger.run_date
    assert trigger.jitter is None


def test_a_past_date_is_still_returned_as_apscheduler_does() -> None:
    trigger = rt(DateTrigger(datetime(2020, 1, 1, tzinfo=UTC)))
    assert trigger.get_next_fire_time(None, NOW) == datetime(2020, 1, 1, tzinfo=UTC)
    assert trigger.fire_times(NOW, 3) == []  # a preview lists only what is ahead


def test_date_trigger_inputs() -> None:
    assert rt(DateTrigger(date(2026, 5, 1))).run_date.isoformat() == "2026-05-01T00:00:00+00:00"
    aware = datetime(2026, 5, 1, 12, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert rt(DateTrigger(aware, timezone="UTC")).run_date.isoformat() == (
        "2026-05-01T06:30:00+00:00"
    )
    assert rt(DateTrigger("2026-05-01T12:00:00Z")).run_date == utc(2026, 5, 1, 12)
    with_micro = rt(DateTrigger("2026-05-01 12:00:00.250000"))
    assert with_micro.run_date.microsecond == 250000


# -- IntervalTrigger --------------------------------------------------------------------------


def test_an_interval_without_start_fires_first_after_one_interval() -> None:
    trigger = rt(IntervalTrigger(minutes=15))
    first = trigger.get_next_fire_time(None, NOW)
    assert first == NOW + timedelta(minutes=15)
    assert trigger.get_next_fire_time(first, NOW) == NOW + timedelta(minutes=30)
    assert isos(trigger.fire_times(NOW, 2)) == [
        "2026-01-01T00:15:00+00:00",
        "2026-01-01T00:30:00+00:00",
    ]
    assert trigger.describe() == "Every 15 minutes"


def test_with_start_date_pins_the_phase() -> None:
    trigger = rt(IntervalTrigger(minutes=15).with_start_date(utc(2026, 1, 1, 0, 5)))
    assert trigger.start_date == utc(2026, 1, 1, 0, 5)
    later = utc(2026, 1, 1, 3, 7)
    assert trigger.get_next_fire_time(None, later) == utc(2026, 1, 1, 3, 20)
    assert trigger.get_next_fire_time(None, utc(2026, 1, 1, 3, 20)) == utc(2026, 1, 1, 3, 20)
    assert trigger.get_next_fire_time(None, utc(2025, 1, 1)) == utc(2026, 1, 1, 0, 5)


def test_interval_arithmetic_is_exact_in_microseconds() -> None:
    start = datetime(2000, 1, 1, tzinfo=UTC)
    trigger = rt(IntervalTrigger(seconds=0.1, start_date=start))
    far = datetime(2100, 1, 1, 0, 0, 0, 50_001, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, far) == datetime(
        2100, 1, 1, 0, 0, 0, 100_000, tzinfo=UTC
    )


def test_interval_end_date_and_describe() -> None:
    trigger = rt(
        IntervalTrigger(
            hours=1,
            minutes=30,
            start_date="2026-01-01",
            end_date="2026-01-01 03:00",
            timezone="Europe/Berlin",
        )
    )
    assert isos(trigger.fire_times(NOW - timedelta(days=1), 5)) == [
        "2026-01-01T00:00:00+01:00",
        "2026-01-01T01:30:00+01:00",
        "2026-01-01T03:00:00+01:00",
    ]
    assert trigger.describe() == (
        "Every 1 hour and 30 minutes from 2026-01-01 00:00 Europe/Berlin until 2026-01-01 "
        "03:00 Europe/Berlin"
    )
    assert rt(IntervalTrigger(minutes=15, start_date="2026-01-01")).describe() == (
        "Every 15 minutes from 2026-01-01 00:00 UTC"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "Bad interval 'all zero' in IntervalTrigger"),
        ({"seconds": 0}, "Bad interval 'all zero'"),
        ({"seconds": -1}, "Bad seconds -1 in IntervalTrigger"),
        ({"minutes": float("inf")}, "Bad minutes inf"),
        ({"hours": "1"}, "Bad hours '1'"),
        ({"days": True}, "Bad days True"),
        ({"weeks": 10**9}, "Bad weeks 1000000000"),
        ({"seconds": 1e-7}, "Bad interval 'seconds=1e-07'"),
        ({"seconds": 1, "timezone": "Nowhere/City"}, "Bad timezone 'Nowhere/City'"),
        ({"seconds": 1, "jitter": "2"}, "Bad jitter '2'"),
        (
            {"seconds": 1, "start_date": "2026-01-02", "end_date": "2020-01-01"},
            "Bad end_date '2020-01-01' in IntervalTrigger: is before start_date",
        ),
    ],
)
def test_bad_interval_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TriggerError, match=re.escape(message)):
        IntervalTrigger(**kwargs)  # type: ignore[arg-type]


# -- CalendarIntervalTrigger --------------------------------------------------------------------


def test_monthly_on_the_31st_skips_short_months() -> None:
    trigger = rt(CalendarIntervalTrigger(months=1, hour=9, start_date="2026-01-31"))
    assert [t.date().isoformat() for t in trigger.fire_times(NOW, 4)] == [
        "2026-01-31",
        "2026-03-31",
        "2026-05-31",
        "2026-07-31",
    ]
    assert trigger.describe() == "Every month at 09:00 (UTC), from 2026-01-31 00:00"


def test_calendar_years_weeks_and_days() -> None:
    leap = rt(CalendarIntervalTrigger(years=1, start_date="2024-02-29"))
    assert [t.date().isoformat() for t in leap.fire_times(NOW, 2)] == ["2028-02-29", "2032-02-29"]
    fortnight = rt(
        CalendarIntervalTrigger(weeks=2, hour=8, minute=15, start_date=date(2025, 12, 29))
    )
    assert isos(fortnight.fire_times(NOW, 2)) == [
        "2026-01-12T08:15:00+00:00",
        "2026-01-26T08:15:00+00:00",
    ]
    mixed = rt(CalendarIntervalTrigger(months=1, days=1, start_date="2026-01-01"))
    assert [t.date().isoformat() for t in mixed.fire_times(NOW, 3)] == [
        "2026-01-01",
        "2026-02-02",
        "2026-03-03",
    ]


def test_calendar_without_start_counts_from_the_date_of_now() -> None:
    trigger = rt(CalendarIntervalTrigger(days=2, hour=9))
    now = utc(2026, 1, 5, 10)  # 09:00 today has passed
    assert isos(trigger.fire_times(now, 2)) == [
        "2026-01-07T09:00:00+00:00",
        "2026-01-09T09:00:00+00:00",
    ]
    pinned = rt(trigger.with_start_date(date(2026, 1, 4)))
    assert isos(pinned.fire_times(now, 1)) == ["2026-01-06T09:00:00+00:00"]


def test_calendar_end_date_includes_the_whole_day() -> None:
    trigger = rt(
        CalendarIntervalTrigger(days=1, hour=23, start_date="2026-01-01", end_date=date(2026, 1, 2))
    )
    assert len(trigger.fire_times(NOW, 5)) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "Bad interval 'all zero' in CalendarIntervalTrigger"),
        ({"days": 1, "hour": 24}, "Bad hour 24"),
        ({"days": 1, "minute": -1}, "Bad minute -1"),
        ({"days": 1.5}, "Bad days 1.5"),
        ({"months": "1"}, "Bad months '1'"),
    ],
)
def test_bad_calendar_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TriggerError, match=re.escape(message)):
        CalendarIntervalTrigger(**kwargs)  # type: ignore[arg-type]


# -- AndTrigger and OrTrigger ---------------------------------------------------------------------


def test_and_fires_when_all_agree() -> None:
    trigger = rt(
        AndTrigger(
            [
                CronTrigger(day_of_week="mon-fri", hour="*/2"),
                CronTrigger(hour="10-14", minute=0),
            ]
        )
    )
    assert isos(trigger.fire_times(NOW, 4)) == [
        "2026-01-01T10:00:00+00:00",
        "2026-01-01T12:00:00+00:00",
        "2026-01-01T14:00:00+00:00",
        "2026-01-02T10:00:00+00:00",
    ]
    assert trigger.describe().startswith("When all of these agree: (")


def test_and_with_an_unpinned_interval_follows_apscheduler() -> None:
    # Every 2 hours, but only on weekdays. (`hour="*"`: with day_of_week alone the cron's
    # hour, minute and second default to 0, APScheduler's rule.)
    trigger = rt(
        AndTrigger([IntervalTrigger(hours=2), CronTrigger(day_of_week="mon-fri", hour="*")])
    )
    pinned = rt(trigger.with_start_date(utc(2026, 1, 2, 20)))  # Friday 20:00
    assert isos(pinned.fire_times(utc(2026, 1, 2, 19), 3)) == [
        "2026-01-02T20:00:00+00:00",
        "2026-01-02T22:00:00+00:00",
        "2026-01-05T00:00:00+00:00",  # Saturday and Sunday skipped
    ]


def test_or_fires_whenever_any_fires_once_per_instant() -> None:
    trigger = rt(
        OrTrigger(
            [
                CronTrigger(hour=9, timezone="Europe/Berlin"),
                CronTrigger(hour=8, timezone="UTC"),
                CronTrigger(hour=12),
            ],
            jitter=5,
        )
    )
    assert isos(trigger.fire_times(NOW, 3)) == [
        "2026-01-01T09:00:00+01:00",  # 08:00 UTC: two children, one firing
        "2026-01-01T13:00:00+01:00",
        "2026-01-02T09:00:00+01:00",
    ]
    assert trigger.timezone.key == "Europe/Berlin"
    assert trigger.describe().startswith("Whenever any of these fires: (")


@pytest.mark.parametrize(
    ("children", "reason"),
    [
        ([DateTrigger("2026-01-01"), DateTrigger("2026-01-02")], "start and end dates"),
        ([DateTrigger("2026-01-01 00:00:30"), CronTrigger(second=0)], "does not fire at"),
        ([CronTrigger(second=0), CronTrigger(second=30)], "second fields have no value"),
        ([CronTrigger(minute="*", hour=1), CronTrigger(minute="*", hour=2)], "hour fields"),
        (
            [
                IntervalTrigger(hours=2, start_date="2026-01-01 00:00"),
                IntervalTrigger(hours=4, start_date="2026-01-01 01:00"),
            ],
            "interval phases never meet",
        ),
        (
            [
                CronTrigger(hour=1, end_date="2026-01-01"),
                CronTrigger(hour=1, start_date="2026-02-01"),
            ],
            "start and end dates leave no common time",
        ),
    ],
)
def test_an_and_that_can_never_agree_is_refused(children: list[object], reason: str) -> None:
    with pytest.raises(TriggerError, match=f"in AndTrigger: they can never fire.*{reason}"):
        AndTrigger(children)  # type: ignore[arg-type]


def test_an_and_that_cannot_be_proved_empty_gives_up_with_a_clear_error() -> None:
    # 10:00 and 11:00 in different zones never coincide, which the check cannot prove.
    trigger = rt(
        AndTrigger(
            [
                CronTrigger(minute="*", hour=10, timezone="UTC"),
                CronTrigger(minute="*", hour=12, timezone="Asia/Kolkata"),
            ]
        )
    )
    with pytest.raises(TriggerError, match=r"no instant all 2 triggers agree on within 10000"):
        trigger.get_next_fire_time(None, NOW)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "Bad triggers [] in AndTrigger: must hold at least one trigger"),
        ("abc", "Bad triggers 'abc' in AndTrigger: must be a list of triggers"),
        ([1], "Bad triggers 1 in AndTrigger: each item must be a trigger"),
        (None, "Bad triggers None in AndTrigger"),
    ],
)
def test_bad_combination_input(value: object, message: str) -> None:
    with pytest.raises(TriggerError, match=re.escape(message)):
        AndTrigger(value)  # type: ignore[arg-type]


# -- trigger_from_dict --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("cron", "Bad trigger 'cron': a trigger dict must be a dict"),
        ({"kind": "cron"}, "Bad version None in trigger dict"),
        (
            {"version": 2, "kind": "cron"},
            "Bad version 2 in trigger dict: this release reads version 1",
        ),
        ({"version": True, "kind": "cron"}, "Bad version True"),
        ({"version": 1, "kind": "weekly"}, "Bad kind 'weekly' in trigger dict: known kinds are"),
        ({"version": 1, "kind": "cron", "hours": 1}, "Bad field 'hours' in trigger dict of kind"),
        ({"version": 1, "kind": "date"}, "the field 'run_date' is missing"),
        (
            {"version": 1, "kind": "cron", "crontab": "* * * * *", "hour": "1"},
            "Bad field 'hour' in trigger dict of kind 'cron': a crontab trigger takes no",
        ),
        ({"version": 1, "kind": "and", "triggers": {}}, "Bad triggers {} in trigger dict"),
        ({"version": 1, "kind": "or", "triggers": [5]}, "Bad trigger 5"),
        ({"version": 1, "kind": "interval", "seconds": "5"}, "Bad seconds '5' in IntervalTrigger"),
    ],
)
def test_trigger_from_dict_rejects_what_it_does_not_know(data: object, message: str) -> None:
    with pytest.raises(TriggerError, match=re.escape(message)):
        trigger_from_dict(data)


def test_to_dict_shapes() -> None:
    assert rt(IntervalTrigger(hours=1.0, jitter=2)).to_dict() == {
        "version": 1,
        "kind": "interval",
        "weeks": 0,
        "days": 0,
        "hours": 1,
        "minutes": 0,
        "seconds": 0,
        "start_date": None,
        "end_date": None,
        "timezone": "UTC",
        "jitter": 2.0,
    }
    nested = rt(
        OrTrigger([AndTrigger([CronTrigger(hour=1), CronTrigger(minute=0)]), DateTrigger(NOW)])
    )
    assert [child["kind"] for child in nested.to_dict()["triggers"]] == ["and", "date"]
    assert rt(CalendarIntervalTrigger(days=1)).to_dict()["kind"] == "calendarinterval"
    assert IntervalTrigger(hours=1) == IntervalTrigger(hours=1.0)
    assert IntervalTrigger(hours=1) != IntervalTrigger(minutes=60)  # other arguments


@pytest.mark.parametrize(
    ("field", "value", "zone"),
    [
        ("end_date", "0001-01-01T00:00:00", "Europe/Berlin"),  # before year 1 in UTC
        ("start_date", "0001-01-01T00:30:00", "Asia/Kolkata"),
        ("end_date", "9999-12-31T23:00:00", "America/New_York"),  # after year 9999 in UTC
    ],
)
@pytest.mark.parametrize("make", ["cron", "crontab", "interval", "calendar"])
def test_a_date_whose_instant_is_outside_the_utc_range_names_the_field(
    make: str, field: str, value: str, zone: str
) -> None:
    # The admin preview fuzzer found this one as a 500 (OverflowError in astimezone).
    build = {
        "cron": lambda **kw: CronTrigger(hour=3, **kw),
        "crontab": lambda **kw: CronTrigger.from_crontab("0 3 * * *", **kw),
        "interval": lambda **kw: IntervalTrigger(hours=1, **kw),
        "calendar": lambda **kw: CalendarIntervalTrigger(days=1, **kw),
    }[make]
    with pytest.raises(TriggerError, match=rf"Bad {field} '{value}' in \w+.*: out of range"):
        build(timezone=zone, **{field: value})


def test_a_run_date_whose_instant_is_outside_the_utc_range_names_the_field() -> None:
    with pytest.raises(TriggerError, match=r"Bad run_date '0001-01-01' in DateTrigger: out of"):
        DateTrigger("0001-01-01", timezone="Europe/Berlin")
