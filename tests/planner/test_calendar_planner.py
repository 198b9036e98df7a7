"""Exclusion calendars in the planner, as tables without a database: an occurrence inside a
calendar is recorded skipped with the calendar's name, never run, and the next run skips the
calendar too; the skipped rows are bounded (docs/calendars.md)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from django_schedules import calendars, plans
from django_schedules.planner import plan_schedule
from django_schedules.triggers import CronTrigger, DateTrigger, IntervalTrigger

from .test_planner import HORIZON, NOW, START, due

SECOND = timedelta(seconds=1)


def plan(calendar_list, *, trigger=None, next_run_at=START, policy=plans.RUN_ONCE, grace=30):
    schedule = dataclasses.replace(
        due(trigger=trigger, next_run_at=next_run_at, policy=policy, grace=grace),
        calendars=tuple(calendar_list),
    )
    return plan_schedule(schedule, 0, now=NOW, horizon=HORIZON, max_catch_up=100)


def summary(result) -> list[tuple[str, str, str]]:
    return [(e.fire_time.strftime("%H:%M"), e.status, e.reason[:28]) for e in result.executions]


def test_without_calendars_nothing_changes() -> None:
    assert plan([]) == plan_schedule(due(), 0, now=NOW, horizon=HORIZON, max_catch_up=100)


def test_an_occurrence_inside_a_window_is_skipped_naming_the_calendar() -> None:
    # A minutely schedule; NOW is 12:00 UTC; the calendar covers 11:00-13:00.
    lunch = calendars.build("lunch", weekly=["thu 11:00-13:00"])  # 2026-01-01 is a Thursday
    result = plan([lunch], next_run_at=NOW)
    assert summary(result) == [("12:00", plans.SKIPPED, "inside calendar 'lunch': not")]
    assert "13:00:00+00:00" in result.executions[0].reason
    # The next run is the first occurrence after the window: it skips the calendar.
    assert result.next_run_at == datetime(2026, 1, 1, 13, 0, tzinfo=UTC)
    assert not [e for e in result.executions if e.status == plans.PENDING]


def test_a_one_second_schedule_in_a_six_hour_window_writes_one_row() -> None:
    night = calendars.build("night", weekly=["thu 09:00-15:00"])
    every_second = json.dumps(IntervalTrigger(seconds=1, start_date=START).to_dict())
    result = plan([night], trigger=every_second, next_run_at=NOW)
    assert [e.status for e in result.executions] == [plans.SKIPPED]
    assert result.next_run_at == datetime(2026, 1, 1, 15, 0, tzinfo=UTC)


def test_missed_occurrences_inside_a_calendar_are_skipped_not_missed() -> None:
    # Six occurrences due (five missed); the calendar covers all of them.
    cal = calendars.build("c", ranges=[("2026-01-01T11:00:00", "2026-01-01T12:00:30")])
    result = plan([cal])
    assert [e.status for e in result.executions] == [plans.SKIPPED]
    assert result.next_run_at == datetime(2026, 1, 1, 12, 1, tzinfo=UTC)


def test_occurrences_outside_still_run_and_miss_as_before() -> None:
    # The calendar covers 11:56 only: 11:55 is missed, 11:56 skipped, 11:57..12:00 as usual.
    cal = calendars.build("c", ranges=[("2026-01-01T11:56:00Z", "2026-01-01T11:56:30Z")])
    result = plan([cal], policy=plans.RUN_ALL, grace=None)
    statuses = [(e.fire_time.strftime("%H:%M"), e.status) for e in result.executions]
    assert ("11:56", plans.SKIPPED) in statuses
    assert [t for t, s in statuses if s == plans.PENDING] == [
        "11:55",
        "11:57",
        "11:58",
        "11:59",
        "12:00",
    ]


def test_the_next_run_skips_a_window_ahead() -> None:
    # 12:00 runs; 12:01 is inside the calendar: recorded skipped now, next run 12:05.
    cal = calendars.build("c", ranges=[("2026-01-01T12:01:00Z", "2026-01-01T12:04:30Z")])
    result = plan([cal], next_run_at=NOW)
    assert summary(result)[0][:2] == ("12:00", plans.PENDING) or summary(result)[-1][:2] == (
        "12:00",
        plans.PENDING,
    )
    assert ("12:01", plans.SKIPPED) in [(t, s) for t, s, _ in summary(result)]
    assert result.next_run_at == datetime(2026, 1, 1, 12, 5, tzinfo=UTC)


def test_the_skipped_rows_a_plan_writes_are_bounded() -> None:
    # A daily 03:00 job with every night excluded: each occurrence is its own window.
    nights = calendars.build("nights", weekly=["mon-sun 02:00-04:00"])
    daily = json.dumps(CronTrigger(hour=3, timezone="UTC").to_dict())
    result = plan([nights], trigger=daily, next_run_at=datetime(2026, 1, 2, 3, tzinfo=UTC))
    assert len(result.executions) == plans.MAX_CALENDAR_SKIPS
    assert all(e.status == plans.SKIPPED for e in result.executions)
    assert result.next_run_at == datetime(2026, 1, 2, 3, tzinfo=UTC) + timedelta(
        days=plans.MAX_CALENDAR_SKIPS
    )
    assert not result.error


def test_calendars_covering_everything_park_the_schedule_with_an_error() -> None:
    always = calendars.build("always", weekly=["mon-sun 00:00-24:00"])
    result = plan([always], next_run_at=NOW)
    assert result.next_run_at is None
    assert "calendar 'always'" in result.error


def test_a_one_off_inside_a_calendar_is_skipped_and_the_schedule_ends() -> None:
    once = json.dumps(DateTrigger(run_date=NOW).to_dict())
    cal = calendars.build("c", dates=["2026-01-01"])
    result = plan([cal], trigger=once, next_run_at=NOW)
    assert [e.status for e in result.executions] == [plans.SKIPPED]
    assert result.next_run_at is None
    assert not result.error


def test_the_first_calendar_covering_is_named_and_the_jump_clears_all() -> None:
    a = calendars.build("a", ranges=[("2026-01-01T11:59:00Z", "2026-01-01T12:02:00Z")])
    b = calendars.build("b", ranges=[("2026-01-01T12:02:00Z", "2026-01-01T12:07:00Z")])
    result = plan([a, b], next_run_at=NOW)
    assert summary(result) == [("12:00", plans.SKIPPED, "inside calendar 'a': not run")]
    assert result.next_run_at == datetime(2026, 1, 1, 12, 7, tzinfo=UTC)


# --- a property: no run is ever planned inside a calendar ---

WINDOWS = st.builds(
    lambda day, start, length: (
        f"{day} {start // 60:02d}:{start % 60:02d}-"
        f"{(start + length) // 60 % 24:02d}:{(start + length) % 60:02d}"
    ),
    st.sampled_from(calendars.WEEKDAYS),
    st.integers(0, 23 * 60).map(lambda m: m - m % 5),
    st.integers(5, 600).map(lambda m: m - m % 5),
).filter(lambda w: w.split()[1].split("-")[0] != w.split()[1].split("-")[1])


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
    weekly=st.lists(WINDOWS, min_size=1, max_size=3),
    seconds=st.sampled_from([1, 60, 300, 3600, 86400]),
    late=st.integers(0, 3 * 86400),
    policy=st.sampled_from([plans.RUN_ONCE, plans.SKIP, plans.RUN_ALL]),
)
def test_no_run_is_planned_inside_a_calendar_and_the_next_run_is_outside(
    zone, weekly, seconds, late, policy
) -> None:
    cal = calendars.build("c", timezone=zone, weekly=weekly)
    trigger = json.dumps(IntervalTrigger(seconds=seconds, start_date=START).to_dict())
    first = NOW - timedelta(seconds=late)
    first = START + timedelta(seconds=seconds) * ((first - START) // timedelta(seconds=seconds))
    result = plan([cal], trigger=trigger, next_run_at=first, policy=policy, grace=None)
    assert not result.error
    fire_times = [e.fire_time for e in result.executions]
    assert len(fire_times) == len(set(fire_times))  # one row per occurrence
    for execution in result.executions:
        inside = cal.covers(execution.fire_time)
        if execution.status == plans.SKIPPED and execution.reason.startswith("inside calendar"):
            assert inside
        elif execution.status in (plans.PENDING, plans.MISSED):
            assert not inside
    skips = sum(e.reason.startswith("inside calendar") for e in result.executions)
    assert skips <= plans.MAX_CALENDAR_SKIPS
    if result.next_run_at is not None and skips < plans.MAX_CALENDAR_SKIPS:
        assert not cal.covers(result.next_run_at)
