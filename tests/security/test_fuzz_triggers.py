"""Trigger constructors, ``from_crontab`` and ``trigger_from_dict`` fed hostile values.

tests/triggers/ already proves that bad input raises nothing but TriggerError. Here each
argument is spoiled alone, so the error must name that argument and quote its value; whatever
is accepted must work (fire times, description, DST notes, round trip); and the hypothesis
deadline catches a hang.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_schedules.exceptions import TriggerError
from django_schedules.triggers import (
    AndTrigger,
    BaseTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
    DateTrigger,
    IntervalTrigger,
    OrTrigger,
    describe_dst,
    trigger_from_dict,
)
from tests.security.helpers import FUZZ

pytestmark = pytest.mark.timeout(600)
NOW = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # hours before Europe's spring-forward gap

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "", " ", "*", "*/0", "*/61", "0/0", "1-0", "5-5/0", "1,,2", "1-5/100", "mon-sun/2",
            "last", "last mon", "6th fri", "1st xyz", "jan-dec/3", "99999", "-1", "1e3", "0x10",
            "٣", "\uff11\uff12", "\x00", "*/1" * 200, ",".join(map(str, range(60))), "9999", "1970",
            "2026-13-01", "2026-02-30", "9999-12-31T23:59:59.999999+14:00", "0001-01-01",
            "2026-03-29T02:30", "Europe/Berlin", "../../../etc/passwd", "UTC\x00", "Etc/GMT+12",
            "posixrules", "localtime", "Factory",
        ]
    ),
)  # fmt: skip
numbers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 59, 60, 23, 24, 31, 32, 53, 54, 9999, 10**9, 1e-7, 0.5, -0.0]),
)
moments = st.one_of(
    st.datetimes(timezones=st.none() | st.just(UTC) | st.just(timezone(timedelta(hours=14)))),
    st.dates(),
    st.sampled_from([datetime.min, datetime.max, date.min, date.max]),
)
values = st.one_of(
    st.none(), st.booleans(), numbers, texts, moments, st.lists(numbers, max_size=3), st.just({})
)

ARGUMENTS: dict[type[BaseTrigger], tuple[dict[str, Any], list[str]]] = {
    DateTrigger: ({"run_date": "2099-01-01"}, ["run_date", "timezone"]),
    IntervalTrigger: (
        {"minutes": 5},
        ["weeks", "days", "hours", "minutes", "seconds", "start_date", "end_date", "timezone",
         "jitter"],
    ),
    CronTrigger: (
        {"hour": 9},
        ["year", "month", "day", "week", "day_of_week", "hour", "minute", "second",
         "start_date", "end_date", "timezone", "jitter"],
    ),
    CalendarIntervalTrigger: (
        {"days": 1},
        ["years", "months", "weeks", "days", "hour", "minute", "second", "start_date",
         "end_date", "timezone", "jitter"],
    ),
}  # fmt: skip
# Words an error may name instead of the argument: the interval the units add up to, and the
# day fields when a date-field value leaves no day that matches.
ALSO = {
    **dict.fromkeys(
        ["weeks", "days", "hours", "minutes", "seconds", "years", "months"], "interval"
    ),
    **dict.fromkeys(["year", "month", "week", "day_of_week"], "day field"),
}


def works(trigger: BaseTrigger) -> None:
    """An accepted trigger answers every question the scheduler and the admin ask of it."""
    fires = trigger.fire_times(NOW, 3)
    assert fires == sorted(fires)
    for fire in fires:
        describe_dst(trigger, fire)
        trigger.get_jitter(fire)
    assert trigger.describe()
    again = trigger_from_dict(json.loads(json.dumps(trigger.to_dict())))
    assert again == trigger


@FUZZ
@given(
    cls=st.sampled_from(list(ARGUMENTS)),
    data=st.data(),
    value=values,
)
def test_a_bad_argument_is_named_with_its_value(
    cls: type[BaseTrigger], data: Any, value: Any
) -> None:
    base, names = ARGUMENTS[cls]
    argument = data.draw(st.sampled_from(names), label="argument")
    try:
        trigger = cls(**{**base, argument: value})
    except TriggerError as exc:
        message = str(exc)
        assert message.startswith("Bad "), message
        assert argument in message or ALSO.get(argument, argument) in message, message
        return
    works(trigger)


crontab_items = st.one_of(
    st.sampled_from(["*", "*/5", "0", "59", "60", "7", "8", "1-5", "5-1", "*/0", "mon", "SUN",
                     "jan", "xyz", "1,2", "1,", "L", "?", "#", "1-7/2", "0-7", ""]),
    st.integers(-5, 100).map(str),
)  # fmt: skip
crontabs = st.one_of(
    st.lists(crontab_items, min_size=0, max_size=7).map(" ".join),
    st.sampled_from(["@daily", "@reboot", "@", "@DAILY", "@every 5m", "\t0 0 * * *\n"]),
    st.text(max_size=40),
)


@FUZZ
@given(expr=crontabs, zone=st.sampled_from([None, "Europe/Berlin", "Australia/Lord_Howe"]))
def test_from_crontab_names_the_crontab_and_quotes_it(expr: str, zone: str | None) -> None:
    try:
        trigger = CronTrigger.from_crontab(expr, timezone=zone)
    except TriggerError as exc:
        message = str(exc)
        # The whole line, or the one field at fault, quoted.
        assert "from_crontab" in message and ("crontab" in message or " field '" in message)
        return
    works(trigger)


json_data = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
trigger_dicts = st.fixed_dictionaries(
    {
        "version": st.sampled_from([1, 1, 1, 2, "1", 1.0, True, None]),
        "kind": st.sampled_from(
            ["date", "interval", "cron", "calendarinterval", "and", "or", "", "Cron", None]
        ),
    },
    optional={
        name: values.filter(lambda v: not isinstance(v, datetime | date)) | json_data
        for name in ["run_date", "seconds", "days", "hour", "day", "crontab", "timezone",
                     "start_date", "end_date", "jitter", "triggers", "bogus"]
    },
)  # fmt: skip


def nested(depth: int) -> dict[str, Any]:
    data: dict[str, Any] = {"version": 1, "kind": "cron", "hour": 1}
    for _ in range(depth):
        data = {"version": 1, "kind": "or", "triggers": [data]}
    return data


@FUZZ
@given(data=st.one_of(json_data, trigger_dicts, st.integers(0, 40).map(nested)))
def test_trigger_from_dict_builds_a_working_trigger_or_says_why(data: Any) -> None:
    try:
        trigger = trigger_from_dict(data)
    except TriggerError as exc:
        assert str(exc).startswith("Bad "), str(exc)
        return
    works(trigger)


@FUZZ
@given(
    cls=st.sampled_from([AndTrigger, OrTrigger]),
    children=st.lists(
        st.sampled_from(
            [
                CronTrigger(hour=9),
                CronTrigger.from_crontab("*/7 * * * *", timezone="Asia/Kolkata"),
                IntervalTrigger(minutes=90, start_date="2026-01-01T00:00:00+00:00"),
                IntervalTrigger(seconds=1),
                DateTrigger("2026-06-01T09:00:00+00:00"),
                CalendarIntervalTrigger(months=1, hour=9, timezone="Europe/Berlin"),
            ]
        ),
        min_size=1,
        max_size=4,
    ),
    jitter=st.one_of(st.none(), numbers),
)
def test_combinations_work_or_say_why(
    cls: type[AndTrigger | OrTrigger], children: list[BaseTrigger], jitter: Any
) -> None:
    try:
        trigger = cls(children, jitter=jitter)
        works(trigger)
    except TriggerError as exc:
        assert str(exc).startswith("Bad "), str(exc)


@pytest.mark.parametrize(
    "trigger",
    [
        DateTrigger(datetime.max.replace(tzinfo=UTC)),
        OrTrigger([DateTrigger(datetime.max.replace(tzinfo=UTC))]),
        IntervalTrigger(hours=1, start_date=datetime.max.replace(tzinfo=UTC)),
    ],
)
def test_nothing_comes_after_the_last_instant(trigger: BaseTrigger) -> None:
    # Found by fuzzing: the preview asked for the fire after 9999-12-31 23:59:59.999999 and
    # overflowed instead of saying there is none.
    assert trigger.fire_times(NOW, 3) == [datetime.max.replace(tzinfo=UTC)]
