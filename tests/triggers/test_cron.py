"""CronTrigger: APScheduler 3 keyword fields, crontab strings, descriptions and bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from django_schedules.exceptions import TriggerError
from django_schedules.triggers import CronTrigger, trigger_from_dict
from tests.triggers.helpers import isos, rt, utc

NOW = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday


def fires(trigger: CronTrigger, count: int = 3, now: datetime = NOW) -> list[str]:
    return isos(rt(trigger).fire_times(now, count))


# -- keyword fields ----------------------------------------------------------------------------


def test_fields_after_the_last_given_one_default_to_their_minimum() -> None:
    assert fires(CronTrigger(hour=9)) == [
        "2026-01-01T09:00:00+00:00",
        "2026-01-02T09:00:00+00:00",
        "2026-01-03T09:00:00+00:00",
    ]
    assert fires(CronTrigger(minute=30)) == [
        "2026-01-01T00:30:00+00:00",
        "2026-01-01T01:30:00+00:00",
        "2026-01-01T02:30:00+00:00",
    ]
    assert fires(CronTrigger(year=2027), 2) == ["2027-01-01T00:00:00+00:00"]
    assert fires(CronTrigger(), 2) == ["2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00"]
    assert CronTrigger(hour=9).fields == {
        "year": "*",
        "month": "*",
        "day": "*",
        "week": "*",
        "day_of_week": "*",
        "hour": "9",
        "minute": "0",
        "second": "0",
    }


def test_weekday_names_ranges_and_zero_is_monday() -> None:
    trigger = CronTrigger(day_of_week="mon-fri", hour=9, minute=30, timezone="Europe/Berlin")
    assert [t.weekday() for t in rt(trigger).fire_times(NOW, 5)] == [3, 4, 0, 1, 2]
    assert rt(CronTrigger(day_of_week=0, hour=1)).fire_times(NOW, 1)[0].weekday() == 0
    assert rt(CronTrigger(day_of_week="SUN", hour=1)).fire_times(NOW, 1)[0].weekday() == 6


def test_nth_and_last_weekday_and_last_day() -> None:
    assert fires(CronTrigger(day="1st mon", hour=8)) == [
        "2026-01-05T08:00:00+00:00",
        "2026-02-02T08:00:00+00:00",
        "2026-03-02T08:00:00+00:00",
    ]
    assert fires(CronTrigger(day="last fri")) == [
        "2026-01-30T00:00:00+00:00",
        "2026-02-27T00:00:00+00:00",
        "2026-03-27T00:00:00+00:00",
    ]
    # A fifth Friday exists only in some months.
    assert fires(CronTrigger(day="5th fri")) == [
        "2026-01-30T00:00:00+00:00",
        "2026-05-29T00:00:00+00:00",
        "2026-07-31T00:00:00+00:00",
    ]
    assert fires(CronTrigger(day="last", month="feb")) == [
        "2026-02-28T00:00:00+00:00",
        "2027-02-28T00:00:00+00:00",
        "2028-02-29T00:00:00+00:00",
    ]


def test_steps_ranges_lists_week_and_year() -> None:
    assert fires(CronTrigger(day="*/10")) == [
        "2026-01-01T00:00:00+00:00",
        "2026-01-11T00:00:00+00:00",
        "2026-01-21T00:00:00+00:00",
    ]
    assert fires(CronTrigger(minute="10-40/15, 59"), 4) == [
        "2026-01-01T00:10:00+00:00",
        "2026-01-01T00:25:00+00:00",
        "2026-01-01T00:40:00+00:00",
        "2026-01-01T00:59:00+00:00",
    ]
    assert fires(CronTrigger(second="50/5"), 3) == [
        "2026-01-01T00:00:50+00:00",
        "2026-01-01T00:00:55+00:00",
        "2026-01-01T00:01:50+00:00",
    ]
    # ISO week 1 of 2027 starts on Monday 2027-01-04; week 53 exists in 2026.
    assert fires(CronTrigger(week=53, day_of_week="mon"), 2) == [
        "2026-12-28T00:00:00+00:00",
        "2032-12-27T00:00:00+00:00",
    ]
    assert fires(CronTrigger(year="2026-2027", month=6, day=1), 3) == [
        "2026-06-01T00:00:00+00:00",
        "2027-06-01T00:00:00+00:00",
    ]


def test_it_starts_on_the_next_whole_second_and_fires_at_now_itself() -> None:
    trigger = rt(CronTrigger(second="*/10"))
    assert trigger.get_next_fire_time(None, utc(2026, 1, 1, 0, 0, 10)) == utc(2026, 1, 1, 0, 0, 10)
    just_after = datetime(2026, 1, 1, 0, 0, 10, 1, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, just_after) == utc(2026, 1, 1, 0, 0, 20)


def test_start_and_end_dates_are_inclusive() -> None:
    trigger = rt(
        CronTrigger(
            hour=12,
            start_date="2026-03-01 12:00",
            end_date="2026-03-03 12:00",
            timezone="Europe/Berlin",
        )
    )
    assert fires(trigger, 5) == [
        "2026-03-01T12:00:00+01:00",
        "2026-03-02T12:00:00+01:00",
        "2026-03-03T12:00:00+01:00",
    ]
    assert trigger.get_next_fire_time(utc(2026, 3, 3, 11), NOW) is None


def test_results_are_in_the_triggers_zone_whatever_zone_now_is_in() -> None:
    trigger = rt(CronTrigger(hour=9, timezone="Asia/Kolkata"))
    now = datetime(2026, 1, 1, 12, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("America/New_York")
    )
    first = trigger.get_next_fire_time(None, now)
    assert first is not None and first.isoformat() == "2026-01-02T09:00:00+05:30"


def test_year_9999_is_the_end() -> None:
    trigger = rt(CronTrigger(year=9999, month=12, day=29))
    assert trigger.fire_times(NOW, 3) == [datetime(9999, 12, 29, tzinfo=UTC)]
    last = rt(CronTrigger(month=12, day=31))
    assert last.get_next_fire_time(None, utc(9999, 12, 1)) == utc(9999, 12, 31)
    assert last.get_next_fire_time(utc(9999, 12, 31), utc(9999, 12, 1)) is None
    # 9999-12-31 23:59-11:00 is past the last instant datetime can hold: exhausted, no error.
    samoa = rt(CronTrigger(month=12, day=31, hour=23, minute=59, timezone="Pacific/Pago_Pago"))
    assert samoa.get_next_fire_time(None, utc(9999, 12, 1)) is None


# -- crontab strings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "weekdays"),
    [
        ("0 9 * * 1-5", [3, 4, 0, 1, 2]),  # Monday to Friday
        ("0 9 * * 0", [6, 6, 6]),  # Sunday
        ("0 9 * * 7", [6, 6, 6]),  # Sunday again
        ("0 9 * * 5-7", [4, 5, 6]),  # Friday to Sunday
        ("0 9 * * SAT,sun", [5, 6, 5]),
        ("0 9 * * MON-WED", [0, 1, 2]),
    ],
)
def test_crontab_day_of_week_counts_from_sunday(expr: str, weekdays: list[int]) -> None:
    trigger = rt(CronTrigger.from_crontab(expr))
    assert [t.weekday() for t in trigger.fire_times(NOW, len(weekdays))] == weekdays


def test_crontab_or_rule_when_both_day_fields_are_restricted() -> None:
    # 1st of the month OR Monday.
    assert fires(CronTrigger.from_crontab("0 9 1 * 1"), 4) == [
        "2026-01-01T09:00:00+00:00",
        "2026-01-05T09:00:00+00:00",
        "2026-01-12T09:00:00+00:00",
        "2026-01-19T09:00:00+00:00",
    ]
    # A field starting with '*' (even '*/2') means AND: odd days that are Mondays.
    assert fires(CronTrigger.from_crontab("0 9 */2 * 1"), 2) == [
        "2026-01-05T09:00:00+00:00",
        "2026-01-19T09:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("macro", "expr"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@HOURLY", "0 * * * *"),
    ],
)
def test_crontab_macros(macro: str, expr: str) -> None:
    trigger = rt(CronTrigger.from_crontab(macro, timezone="Europe/Berlin"))
    assert trigger.fire_times(NOW, 3) == CronTrigger.from_crontab(expr, "Europe/Berlin").fire_times(
        NOW, 3
    )
    assert trigger.crontab == macro


def test_crontab_round_trip_keeps_the_string() -> None:
    trigger = rt(CronTrigger.from_crontab("  */5  *  * * *", timezone="Europe/Berlin", jitter=3))
    assert trigger.to_dict() == {
        "version": 1,
        "kind": "cron",
        "crontab": "*/5 * * * *",
        "start_date": None,
        "end_date": None,
        "timezone": "Europe/Berlin",
        "jitter": 3.0,
    }
    again = trigger_from_dict(trigger.to_dict())
    assert isinstance(again, CronTrigger) and again.crontab == "*/5 * * * *"
    assert CronTrigger(minute="*/5") != CronTrigger.from_crontab("*/5 * * * *")


def test_crontab_steps_and_ranges() -> None:
    assert fires(CronTrigger.from_crontab("15,45 */2 1-15 * *"), 3) == [
        "2026-01-01T00:15:00+00:00",
        "2026-01-01T00:45:00+00:00",
        "2026-01-01T02:15:00+00:00",
    ]
    assert fires(CronTrigger.from_crontab("0 0 29 2 *"), 2) == [
        "2028-02-29T00:00:00+00:00",
        "2032-02-29T00:00:00+00:00",
    ]
    assert fires(CronTrigger.from_crontab("50/5 0 1 JAN *"), 3) == [
        "2026-01-01T00:50:00+00:00",
        "2026-01-01T00:55:00+00:00",
        "2027-01-01T00:50:00+00:00",
    ]


# -- describe -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "text"),
    [
        (
            CronTrigger(day_of_week="mon-fri", hour=9, minute=30, timezone="Europe/Berlin"),
            "At 09:30 on Monday through Friday (Europe/Berlin)",
        ),
        (CronTrigger.from_crontab("*/5 * * * *"), "Every 5 minutes (UTC)"),
        (CronTrigger.from_crontab("0 * * * *"), "At minute 0 past every hour (UTC)"),
        (
            CronTrigger.from_crontab("15,45 */2 1-15 * *"),
            "At minutes 15 and 45 past every 2nd hour on days 1 through 15 of the month (UTC)",
        ),
        (
            CronTrigger.from_crontab("0 9 1 * 1"),
            "At 09:00 on day 1 of the month or on Monday (UTC)",
        ),
        (
            CronTrigger.from_crontab("0 0 29 2 *"),
            "At 00:00 on day 29 of the month in February (UTC)",
        ),
        (
            CronTrigger(day="last fri", month="jan-mar", hour=18),
            "At 18:00 on the last Friday of the month in January through March (UTC)",
        ),
        (CronTrigger(second="*/10"), "Every 10 seconds (UTC)"),
        (
            CronTrigger(hour=8, end_date="2026-06-30"),
            "At 08:00 (UTC), until 2026-06-30 00:00",
        ),
    ],
)
def test_describe(trigger: CronTrigger, text: str) -> None:
    assert rt(trigger).describe() == text


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"day_of_week": "mon-sun-tue"}, "Bad day_of_week field 'mon-sun-tue' in CronTrigger"),
        ({"day_of_week": "sun-mon"}, "Bad day_of_week field 'sun-mon'"),
        ({"day_of_week": 7}, "Bad day_of_week field '7'"),
        ({"hour": 24}, "Bad hour field '24'"),
        ({"hour": -1}, "Bad hour field '-1'"),
        ({"minute": "*/0"}, "Bad minute field '*/0'"),
        ({"minute": "*/60"}, "Bad minute field '*/60'"),
        ({"minute": "10-5"}, "Bad minute field '10-5'"),
        ({"minute": "1,,2"}, "Bad minute field '1,,2'"),
        ({"minute": ""}, "Bad minute field ''"),
        ({"second": "60"}, "Bad second field '60'"),
        ({"month": "jan-mar/2"}, "Bad month field 'jan-mar/2'"),
        ({"month": "janx"}, "Bad month field 'janx'"),
        ({"month": 13}, "Bad month field '13'"),
        ({"day": "lastx"}, "Bad day field 'lastx'"),
        ({"day": "6th mon"}, "Bad day field '6th mon'"),
        ({"day": "1st xyz"}, "Bad day field '1st xyz'"),
        ({"day": 0}, "Bad day field '0'"),
        ({"week": 54}, "Bad week field '54'"),
        ({"year": 1969}, "Bad year field '1969'"),
        ({"hour": True}, "Bad hour field True"),
        ({"hour": 1.5}, "Bad hour field 1.5"),
        ({"hour": "٣"}, "Bad hour field '٣'"),
        ({"day": 30, "month": 2}, "Bad day field '30' in CronTrigger"),
        ({"day": 31, "month": "4,6,9,11"}, "Bad day field '31'"),
        ({"day": "5th mon", "day_of_week": "tue"}, "Bad day field '5th mon'"),
        ({"timezone": "Mars/Olympus"}, "Bad timezone 'Mars/Olympus' in CronTrigger"),
        ({"timezone": 5}, "Bad timezone 5"),
        ({"jitter": -1}, "Bad jitter -1"),
        ({"jitter": float("nan")}, "Bad jitter nan"),
        ({"start_date": "yesterday"}, "Bad start_date 'yesterday'"),
        (
            {"start_date": datetime(2026, 1, 2), "end_date": datetime(2026, 1, 1)},
            "Bad end_date '2026-01-01T00:00:00' in CronTrigger: is before start_date "
            "2026-01-02T00:00:00+00:00",
        ),
        ({"start_date": 5}, "Bad start_date 5"),
        (
            {"start_date": "2026-01-02", "end_date": "2026-01-01"},
            "Bad end_date '2026-01-01' in CronTrigger: is before start_date",
        ),
    ],
)
def test_bad_keyword_input_names_the_field_and_the_value(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TriggerError, match=re.escape(message)):
        CronTrigger(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 0 30 2 *", "Bad crontab '0 0 30 2 *' in CronTrigger.from_crontab: day-of-month"),
        ("0 0 31 4,6,9,11 *", "can never fire"),
        ("* * * *", "needs 5 fields"),
        ("* * * * * *", "needs 5 fields"),
        ("", "needs 5 fields"),
        ("@reboot", "unknown macro"),
        ("60 * * * *", "Bad minute field '60'"),
        ("* 24 * * *", "Bad hour field '24'"),
        ("* * 0 * *", "Bad day_of_month field '0'"),
        ("* * * 13 *", "Bad month field '13'"),
        ("* * * * 8", "Bad day_of_week field '8'"),
        ("* * * * 5-1", "Bad day_of_week field '5-1'"),
        ("*/0 * * * *", "Bad minute field '*/0'"),
        ("1,,2 * * * *", "Bad minute field '1,,2'"),
        ("* * L * *", "Bad day_of_month field 'L'"),
        ("* * * * 5L", "Bad day_of_week field '5L'"),
        ("* * * * MON#2", "Bad day_of_week field 'MON#2'"),
        ("* * * FOO *", "Bad month field 'FOO'"),
        ("-1 * * * *", "Bad minute field '-1'"),
    ],
)
def test_bad_crontab_names_the_field_and_the_value(expr: str, message: str) -> None:
    with pytest.raises(TriggerError, match=re.escape(message)):
        CronTrigger.from_crontab(expr)


def test_from_crontab_rejects_a_non_string() -> None:
    with pytest.raises(TriggerError, match="Bad crontab 5"):
        CronTrigger.from_crontab(5)  # type: ignore[arg-type]


def test_it_is_immutable_and_hashable() -> None:
    trigger = rt(CronTrigger(hour="9"))
    assert trigger == CronTrigger(hour=9)
    assert len({trigger, CronTrigger(hour=9), CronTrigger(hour=10)}) == 2
    with pytest.raises(AttributeError):
        trigger.timezone = None  # type: ignore[assignment]
    with pytest.raises(AttributeError):
        del trigger.jitter
    assert repr(trigger) == "CronTrigger(hour='9', timezone='UTC')"
