"""Exclusion calendars through the scheduler's claim: occurrences inside a calendar are
recorded skipped with its name and never run, the next run skips the calendar, the rows stay
bounded, and a batch reads its calendars in one query (none when no schedule names one)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from django_schedules.api_calendars import add_calendar
from django_schedules.clock import ManualClock
from django_schedules.models import Calendar, Execution, ExecutionStatus, Schedule
from tests.engine import jobs

from .conftest import NOW, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


def test_occurrences_inside_a_calendar_are_skipped_and_never_run(clock: ManualClock) -> None:
    add_calendar(
        "maintenance",
        ranges=[(NOW + 2 * MINUTE, NOW + 4 * MINUTE + timedelta(seconds=30))],
        timezone="UTC",
    )
    interval_schedule("minutely", 60, calendars=["maintenance"], kwargs={"tag": "m"})
    scheduler = make_scheduler(clock)  # the inline executor: each run ends within tick()
    for _ in range(8):
        scheduler.tick()
        clock.advance(60)
    rows = list(
        Execution.objects.order_by("fire_time").values_list("fire_time", "status", "reason")
    )
    by_minute = {round((t - NOW) / MINUTE): (s, r) for t, s, r in rows}
    assert sorted(by_minute) == [0, 1, 2, 5, 6, 7]  # 3 and 4: inside, not recorded one by one
    assert by_minute[2][0] == ExecutionStatus.SKIPPED
    assert by_minute[2][1].startswith("inside calendar 'maintenance': not run")
    assert all(by_minute[m][0] == ExecutionStatus.SUCCEEDED for m in (0, 1, 5, 6, 7))
    assert len(jobs.RUNS) == 5
    assert Schedule.objects.get(job_id="minutely").next_run_at == NOW + 8 * MINUTE


def test_a_one_second_schedule_in_a_six_hour_window_writes_one_row(clock: ManualClock) -> None:
    add_calendar("night", ranges=[(NOW, NOW + timedelta(hours=6))], timezone="UTC")
    interval_schedule("fast", 1, calendars=["night"], kwargs={"tag": "f"})
    scheduler = make_scheduler(clock)
    for _ in range(5):
        scheduler.tick()
        clock.advance(1)
    assert list(Execution.objects.values_list("status", flat=True)) == ["skipped"]
    assert Schedule.objects.get(job_id="fast").next_run_at == NOW + timedelta(hours=6)
    assert not jobs.RUNS


def test_a_batch_reads_its_calendars_in_one_query(clock: ManualClock) -> None:
    add_calendar("a", dates=["2031-01-01"], timezone="UTC")
    add_calendar("b", weekly=["sun 00:00-01:00"], timezone="UTC")
    for i in range(5):
        interval_schedule(f"with{i}", 60, calendars=["a", "b"][: 1 + i % 2], kwargs={"tag": i})
    table = Calendar._meta.db_table
    with CaptureQueriesContext(connections["default"]) as queries:
        make_scheduler(clock).tick()
    assert sum(table in q["sql"] for q in queries.captured_queries) == 1
    assert Execution.objects.filter(status=ExecutionStatus.SUCCEEDED).count() == 5
    Schedule.objects.update(calendars=[])
    clock.advance(60)
    with CaptureQueriesContext(connections["default"]) as queries:
        make_scheduler(clock).tick()
    assert sum(table in q["sql"] for q in queries.captured_queries) == 0


@pytest.mark.django_db(transaction=True)
def test_runscheduler_once_skips_what_a_calendar_covers_and_runs_the_rest(time_machine) -> None:
    from django.core.management import call_command

    time_machine.move_to(NOW, tick=True)
    add_calendar("today", dates=[NOW.date()], timezone="UTC")
    interval_schedule("inside", 3600, calendars=["today"], kwargs={"tag": "inside"})
    interval_schedule("outside", 3600, kwargs={"tag": "outside"})
    call_command("runscheduler", "--once", stdout=None)
    rows = dict(Execution.objects.values_list("job_id", "status"))
    assert rows == {"inside": ExecutionStatus.SKIPPED, "outside": ExecutionStatus.SUCCEEDED}
    skipped = Execution.objects.get(job_id="inside")
    assert skipped.reason.startswith("inside calendar 'today'") and skipped.started_at is None
    # The next run is the first hour of tomorrow, the calendar's day over.
    assert Schedule.objects.get(job_id="inside").next_run_at == NOW.replace(hour=0) + timedelta(
        days=1
    )
    assert jobs.RUNS == [("record", "outside")]


@pytest.mark.parametrize("stored", [5, {"a": 1}, "a", [1, None], ["gone"]])
def test_a_calendars_column_written_behind_the_apis_back_breaks_nothing(
    clock: ManualClock, stored
) -> None:
    # Not a list of names, or a name no calendar has: no exclusion, and the claim goes on.
    interval_schedule("odd", 60, calendars=stored, kwargs={"tag": "odd"})
    make_scheduler(clock).tick()
    assert list(Execution.objects.values_list("status", flat=True)) == ["succeeded"]
