"""``add_job``, ``modify_job`` and ``reschedule_job`` fed hostile values, one argument at a time.

Allowed outcomes: a schedule that reads back as written, or one of the package's errors whose
message names the argument; a refused call leaves every row as it was.
"""

from __future__ import annotations

import decimal
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import django_schedules
from django_schedules.exceptions import SchedulesError
from django_schedules.models import Schedule
from django_schedules.triggers import trigger_from_dict
from tests.admin.conftest import REPORT
from tests.databases import snapshot
from tests.security.helpers import FUZZ

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(600)]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "", "*", "*/0", "1-5", "mon-fri", "last", "Europe/Berlin", "Mars/Phobos",
            "2026-01-01", "2026-03-29T02:30:00", "9999-12-31T23:59:59+14:00", "cron",
            "interval", "date", "and", "\x00", "\ud800", "a\x00b", "<b>x</b>", "x" * 300,
            "os.system", "builtins.eval", "subprocess:call",
        ]
    ),
    st.datetimes(timezones=st.none() | st.just(UTC)),
    st.dates(),
    st.timedeltas(),
    st.sampled_from([object(), b"bytes", {1, 2}, decimal.Decimal("1.5"), ValueError, print]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), children, max_size=3)
    ),
    max_leaves=6,
)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


# Nesting deeper than MariaDB's JSON_VALID allows.
deep = st.integers(25, 60).map(_nested)

# add_job's arguments, with the word its error message uses for each.
ADD_JOB_ARGUMENTS = {
    "func": "callable",
    "trigger": "trigger",
    "args": "args",
    "kwargs": "kwargs",
    "id": "id",
    "name": "name",
    "misfire_grace_time": "misfire_grace_time",
    "coalesce": "coalesce",
    "max_instances": "max_instances",
    "next_run_time": "next_run_time",
    "executor": "executor",
    "replace_existing": "replace_existing",
    "misfire_policy": "misfire_policy",
    "timeout": "timeout",
    "max_retries": "max_retries",
    "retry_delay": "retry_delay",
    "rerun_lost": "rerun_lost",
    "enabled": "enabled",
    "source": "source",
    # Cron trigger arguments, passed through to CronTrigger.
    "hour": "hour",
    "day_of_week": "day_of_week",
    "timezone": "timezone",
    "start_date": "start_date",
    "end_date": "end_date",
    "jitter": "jitter",
}
BASE = {"func": REPORT, "trigger": "cron", "kwargs": {"recipient": "a"}, "id": "fuzzed"}


def check_written(schedule: Schedule) -> None:
    """A schedule the API accepted reads back from the database exactly as it was written."""
    stored = Schedule.objects.get(pk=schedule.pk)
    for field in ("args", "kwargs", "trigger", "name", "job_id", "timeout", "retry_delay"):
        assert getattr(stored, field) == getattr(schedule, field), field
    trigger_from_dict(stored.trigger).describe()
    stored.delete()


def refused_naming(exc: SchedulesError, word: str, before: Any) -> None:
    message = str(exc)
    # Case aside: a trigger's own errors name it as, say, "IntervalTrigger".
    assert word.lower() in message.lower(), (word, message)
    assert snapshot() == before


@FUZZ
@given(argument=st.sampled_from(sorted(ADD_JOB_ARGUMENTS)), value=values | deep)
def test_add_job_writes_or_names_the_argument(argument: str, value: Any) -> None:
    before = snapshot()
    call = {**BASE, argument: value}
    func = call.pop("func")
    try:
        schedule = django_schedules.add_job(func, **call)
    except SchedulesError as exc:
        refused_naming(exc, ADD_JOB_ARGUMENTS[argument], before)
    else:
        check_written(schedule)


# modify_job takes add_job's arguments except the id, the trigger's own and add_job's flags.
MODIFIABLE = sorted(
    set(ADD_JOB_ARGUMENTS)
    - {"id", "replace_existing", "enabled", "source", "hour", "day_of_week", "timezone"}
    - {"start_date", "end_date", "jitter"}
)


@FUZZ
@given(argument=st.sampled_from(MODIFIABLE), value=values | deep)
def test_modify_job_changes_or_names_the_argument(argument: str, value: Any) -> None:
    existing = django_schedules.add_job(REPORT, "cron", id="fuzzed", kwargs={"recipient": "a"})
    try:
        before = snapshot()
        try:
            schedule = django_schedules.modify_job("fuzzed", **{argument: value})
        except SchedulesError as exc:
            refused_naming(exc, ADD_JOB_ARGUMENTS.get(argument, argument), before)
        else:
            check_written(schedule)
    finally:
        Schedule.objects.filter(pk=existing.pk).delete()


# A valid trigger of each kind, whose arguments the test then spoils one at a time.
TRIGGERS = {
    "cron": {"hour": 9},
    "interval": {"seconds": 30},
    "date": {"run_date": "2099-01-01T00:00:00"},
    "calendarinterval": {"days": 1},
}


@FUZZ
@given(
    trigger=st.one_of(st.sampled_from(sorted(TRIGGERS)), values),
    argument=st.sampled_from(["hour", "seconds", "run_date", "days", "timezone", "jitter"]),
    value=values,
)
def test_reschedule_job_changes_or_names_the_argument(
    trigger: Any, argument: str, value: Any
) -> None:
    existing = django_schedules.add_job(REPORT, "cron", id="fuzzed", kwargs={"recipient": "a"})
    trigger_args = (
        {**TRIGGERS.get(trigger, {}), argument: value}
        if isinstance(trigger, str)
        else {argument: value}
    )
    try:
        before = snapshot()
        try:
            schedule = django_schedules.reschedule_job("fuzzed", trigger=trigger, **trigger_args)
        except SchedulesError as exc:
            assert argument in str(exc) or "trigger" in str(exc), str(exc)
            assert snapshot() == before
        else:
            check_written(schedule)
    finally:
        Schedule.objects.filter(pk=existing.pk).delete()
