"""backfill_job (issue 18): each occurrence of a past range becomes one Execution of kind
backfill; a second backfill adds nothing; missed and skipped occurrences run again as their
Execution's next attempt; those that ran are left alone; a range over the limit is refused
with its count; every bad value is refused naming the field, and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import django_schedules
from django_schedules import add_job, backfill_job, pause_job
from django_schedules.backfill import LEFT_ALONE, MAX_LIMIT, NEW, RERUN, BackfillResult
from django_schedules.exceptions import InvalidSchedule, JobNotRegistered, ScheduleNotFound
from django_schedules.models import Execution, ExecutionKind, ExecutionStatus, Schedule
from django_schedules.registry import register, unregister
from tests.databases import snapshot
from tests.testapp import jobs

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def hourly(job_id: str = "hourly", **kwargs: Any) -> Schedule:
    """A schedule firing on every hour since DAY."""
    add_job(jobs.add, "interval", hours=1, start_date=DAY, args=[1, 2], id=job_id, **kwargs)
    return Schedule.objects.get(job_id=job_id)


def record(schedule: Schedule, hour: int, status: str, **fields: Any) -> Execution:
    """An occurrence the scheduler recorded (what the planner writes), DAY + `hour`."""
    fire = DAY + timedelta(hours=hour)
    fields.setdefault("finished_at", fire)
    return Execution.objects.create(
        schedule=schedule,
        job_id=schedule.job_id,
        func=schedule.func,
        args=schedule.args,
        fire_time=fire,
        run_at=fire,
        status=status,
        executor="default",
        **fields,
    )


def test_each_occurrence_of_the_range_becomes_one_pending_backfill_execution() -> None:
    schedule = hourly()
    result = backfill_job("hourly", DAY, DAY + timedelta(hours=5))
    assert (result.created, result.retried, result.left_alone) == (5, 0, 0)
    assert [o.fire_time for o in result.occurrences] == [DAY + timedelta(hours=h) for h in range(5)]
    assert {o.action for o in result.occurrences} == {NEW}
    rows = Execution.objects.filter(schedule=schedule).order_by("fire_time")
    assert [r.fire_time for r in rows] == [DAY + timedelta(hours=h) for h in range(5)]
    assert {(r.kind, r.status, r.attempt, r.reason, r.epoch, r.func) for r in rows} == {
        (ExecutionKind.BACKFILL, ExecutionStatus.PENDING, 1, "backfill", None, schedule.func)
    }
    assert {tuple(r.args) for r in rows} == {(1, 2)}


def test_the_start_is_included_and_the_end_is_not() -> None:
    hourly()
    result = backfill_job("hourly", DAY + timedelta(hours=2), DAY + timedelta(hours=4))
    assert [o.fire_time for o in result.occurrences] == [
        DAY + timedelta(hours=2),
        DAY + timedelta(hours=3),
    ]
    later = backfill_job("hourly", DAY + timedelta(minutes=121), DAY + timedelta(minutes=241))
    assert [o.fire_time for o in later.occurrences] == [
        DAY + timedelta(hours=3),
        DAY + timedelta(hours=4),
    ]
    assert (later.created, later.left_alone) == (1, 1)


def test_a_second_backfill_of_the_same_range_adds_nothing() -> None:
    hourly()
    backfill_job("hourly", DAY, DAY + timedelta(hours=3))
    before = list(Execution.objects.order_by("pk").values())
    again = backfill_job("hourly", DAY, DAY + timedelta(hours=3))
    assert (again.created, again.retried, again.left_alone) == (0, 0, 3)
    assert {(o.action, o.status) for o in again.occurrences} == {(LEFT_ALONE, "pending")}
    assert list(Execution.objects.order_by("pk").values()) == before


def test_missed_and_skipped_occurrences_run_again_as_their_next_attempt() -> None:
    schedule = hourly()
    missed = record(schedule, 0, ExecutionStatus.MISSED, reason="missed: 1 occurrence")
    skipped = record(schedule, 1, ExecutionStatus.SKIPPED, reason="skipped: still running")
    result = backfill_job("hourly", DAY, DAY + timedelta(hours=3))
    assert (result.created, result.retried, result.left_alone) == (1, 2, 0)
    assert [(o.action, o.status) for o in result.occurrences] == [
        (RERUN, "missed"),
        (RERUN, "skipped"),
        (NEW, ""),
    ]
    for row in (missed, skipped):
        row.refresh_from_db()
        assert (row.status, row.attempt, row.reason, row.kind, row.epoch, row.finished_at) == (
            ExecutionStatus.PENDING,
            2,
            "backfill",
            ExecutionKind.BACKFILL,
            None,
            None,
        )
    assert Execution.objects.filter(schedule=schedule).count() == 3  # one per occurrence


@pytest.mark.parametrize(
    "status",
    [
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.LOST,
        ExecutionStatus.RUNNING,
        ExecutionStatus.PENDING,
        ExecutionStatus.BUFFERED,
    ],
)
def test_an_occurrence_that_ran_or_waits_to_run_is_left_alone(status: str) -> None:
    schedule = hourly()
    ran = record(schedule, 0, status, result="42")
    before = Execution.objects.filter(pk=ran.pk).values().get()
    result = backfill_job("hourly", DAY, DAY + timedelta(hours=2))
    assert (result.created, result.retried, result.left_alone) == (1, 0, 1)
    assert result.occurrences[0].action == LEFT_ALONE
    assert result.occurrences[0].status == status
    assert Execution.objects.filter(pk=ran.pk).values().get() == before


def test_a_dry_run_says_what_would_happen_and_writes_nothing() -> None:
    schedule = hourly()
    record(schedule, 0, ExecutionStatus.MISSED)
    record(schedule, 1, ExecutionStatus.SUCCEEDED)
    before = snapshot()
    result = backfill_job("hourly", DAY, DAY + timedelta(hours=3), dry_run=True)
    assert result.dry_run
    assert [o.action for o in result.occurrences] == [RERUN, LEFT_ALONE, NEW]
    assert (result.created, result.retried, result.left_alone) == (1, 1, 1)
    assert snapshot() == before


def test_a_range_over_the_limit_is_refused_with_its_count() -> None:
    hourly()
    before = snapshot()
    with pytest.raises(InvalidSchedule, match=r"holds 24 occurrences, more than its limit of 10"):
        backfill_job("hourly", DAY, DAY + timedelta(days=1), limit=10)
    assert snapshot() == before
    result = backfill_job("hourly", DAY, DAY + timedelta(days=1), limit=24)
    assert result.created == 24


def test_a_range_beyond_the_counting_bound_says_more_than() -> None:
    add_job(jobs.noop, "interval", seconds=1, start_date=DAY, id="busy")
    with pytest.raises(InvalidSchedule, match=rf"more than {MAX_LIMIT:,} occurrences") as caught:
        backfill_job("busy", DAY, DAY + timedelta(days=2))
    assert caught.value.field == "limit"
    assert not Execution.objects.exists()


def test_the_schedules_start_and_end_dates_bound_the_occurrences() -> None:
    add_job(
        jobs.noop,
        "interval",
        hours=1,
        start_date=DAY + timedelta(hours=2),
        end_date=DAY + timedelta(hours=4),
        id="bounded",
    )
    result = backfill_job("bounded", DAY, DAY + timedelta(days=1))
    assert [o.fire_time for o in result.occurrences] == [
        DAY + timedelta(hours=h) for h in (2, 3, 4)
    ]


def test_a_cron_schedule_in_a_zone_backfills_its_wall_clock_times_in_utc() -> None:
    zone = ZoneInfo("America/New_York")
    add_job(jobs.noop, "cron", hour=9, minute=30, timezone="America/New_York", id="daily")
    start = datetime(2026, 3, 1, tzinfo=zone)
    result = backfill_job("daily", start, start + timedelta(days=3))
    assert [o.fire_time for o in result.occurrences] == [
        datetime(2026, 3, d, 9, 30, tzinfo=zone).astimezone(UTC) for d in (1, 2, 3)
    ]
    assert {o.fire_time.tzinfo for o in result.occurrences} == {UTC}


def test_a_paused_schedule_is_backfilled_too() -> None:
    hourly()
    pause_job("hourly", reason="maintenance")
    assert backfill_job("hourly", DAY, DAY + timedelta(hours=2)).created == 2
    assert not Schedule.objects.get(job_id="hourly").enabled


def test_it_is_exported_from_the_package() -> None:
    assert django_schedules.backfill_job is backfill_job
    assert django_schedules.BackfillResult is BackfillResult


NOW_ISH = datetime.now(UTC)

BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("naive start", {"start": datetime(2026, 1, 1)}, "start", r"start 2026-01-01T00:00:00 .*naive"),
    ("naive end", {"end": datetime(2026, 1, 2)}, "end", r"end 2026-01-02T00:00:00 .*naive"),
    ("start not a datetime", {"start": "2026-01-01"}, "start", r"start '2026-01-01' must be"),
    ("end not a datetime", {"end": 5}, "end", r"end 5 must be an aware datetime"),
    ("end before start", {"end": DAY - timedelta(hours=1)}, "end", r"is not after start"),
    ("end equal to start", {"end": DAY}, "end", r"is not after start"),
    ("end in the future", {"end": NOW_ISH + timedelta(days=1)}, "end", r"is in the future"),
    ("limit zero", {"limit": 0}, "limit", r"limit 0 must be a whole number"),
    ("limit a bool", {"limit": True}, "limit", r"limit True must be"),
    ("limit a float", {"limit": 2.5}, "limit", r"limit 2.5 must be"),
    ("limit too high", {"limit": MAX_LIMIT + 1}, "limit", r"limit 100001 must be"),
    ("dry_run not a bool", {"dry_run": "yes"}, "dry_run", r"dry_run 'yes' must be True or False"),
    ("job_id not a string", {"job_id": 7}, "job_id", r"job_id 7 must be a string"),
]


@pytest.mark.parametrize(
    ("changes", "field", "match"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_every_bad_value_is_refused_naming_the_field_and_nothing_is_written(
    changes: dict[str, Any], field: str, match: str
) -> None:
    schedule = hourly()
    record(schedule, 0, ExecutionStatus.MISSED)
    before = snapshot()
    call: dict[str, Any] = {
        "job_id": "hourly",
        "start": DAY,
        "end": DAY + timedelta(hours=3),
        **changes,
    }
    with pytest.raises(InvalidSchedule, match=match) as caught:
        backfill_job(**call)
    assert caught.value.field == field
    assert snapshot() == before


@pytest.mark.parametrize(
    "trigger",
    [{"version": 1, "kind": "cron", "hour": "99"}, {"kind": "nope"}, ["not", "a", "dict"]],
)
def test_a_stored_trigger_that_cannot_be_read_is_refused_naming_it(trigger: Any) -> None:
    hourly()
    Schedule.objects.filter(job_id="hourly").update(trigger=trigger)  # behind the API's back
    before = snapshot()
    with pytest.raises(InvalidSchedule, match="its stored trigger cannot be read") as caught:
        backfill_job("hourly", DAY, DAY + timedelta(hours=3))
    assert caught.value.field == "trigger"
    assert snapshot() == before


def test_an_unknown_schedule_is_refused() -> None:
    with pytest.raises(ScheduleNotFound, match="nope"):
        backfill_job("nope", DAY, DAY + timedelta(hours=1))


def test_a_callable_that_disappeared_is_refused_and_nothing_is_written() -> None:
    def temporary() -> None:
        pass

    entry = register(temporary, name="temp.job")
    add_job("temp.job", "interval", hours=1, start_date=DAY, id="temp")
    unregister(entry.name)  # a deploy removed it
    with pytest.raises(JobNotRegistered, match=r"temp\.job"):
        backfill_job("temp", DAY, DAY + timedelta(hours=2))
    assert not Execution.objects.exists()
