"""``manage.py backfilljob JOB_ID --start --end [--limit] [--dry-run]`` (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_schedules import add_job
from django_schedules.models import Execution, ExecutionKind, ExecutionStatus, Schedule
from tests.databases import snapshot
from tests.testapp import jobs

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def hourly() -> Schedule:
    add_job(jobs.noop, "interval", hours=1, start_date=DAY, id="hourly")
    return Schedule.objects.get(job_id="hourly")


def backfill(*args: str) -> str:
    out = StringIO()
    call_command("backfilljob", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_backfills_the_range_and_says_how_many(hourly: Schedule) -> None:
    Execution.objects.create(
        schedule=hourly,
        job_id="hourly",
        func=hourly.func,
        fire_time=DAY,
        status=ExecutionStatus.MISSED,
    )
    out = backfill("hourly", "--start", "2026-01-01T00:00Z", "--end", "2026-01-01T03:00+00:00")
    assert out.splitlines() == [
        "Backfilling 'hourly' from 2026-01-01T00:00:00+00:00 to 2026-01-01T03:00:00+00:00 "
        "(limit 1000)...",
        "Backfilled 3 occurrence(s): 2 new, 1 re-run, 0 left alone: the scheduler runs them.",
    ]
    rows = Execution.objects.order_by("fire_time").values_list("kind", "status", "attempt")
    assert list(rows) == [
        (ExecutionKind.BACKFILL, ExecutionStatus.PENDING, 2),
        (ExecutionKind.BACKFILL, ExecutionStatus.PENDING, 1),
        (ExecutionKind.BACKFILL, ExecutionStatus.PENDING, 1),
    ]
    again = backfill("hourly", "--start=2026-01-01T00:00Z", "--end=2026-01-01T03:00Z", "-v", "2")
    assert "  2026-01-01T01:00:00+00:00  left alone (recorded pending)" in again.splitlines()
    assert again.splitlines()[-1].startswith("Backfilled 3 occurrence(s): 0 new, 0 re-run, 3 left")
    assert Execution.objects.count() == 3


def test_a_dry_run_lists_each_occurrence_and_writes_nothing() -> None:
    before = snapshot()
    out = backfill(
        "hourly", "--start=2026-01-01T01:00+01:00", "--end=2026-01-01T02:00Z", "--dry-run"
    )
    assert out.splitlines()[1:] == [
        "  2026-01-01T00:00:00+00:00  new",
        "  2026-01-01T01:00:00+00:00  new",
        "Would backfill 2 occurrence(s): 2 new, 0 re-run, 0 left alone. Nothing was written.",
    ]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--end=2026-01-02T00:00Z", "--limit=10"], r"--limit: .*holds 24 occurrences"),
        (["--end=2025-12-31T00:00Z"], r"--end: end 2025-12-31T00:00:00\+00:00 is not after start"),
        ([f"--end={(datetime.now(UTC) + timedelta(days=2)).isoformat()}"], r"--end: .*future"),
        (["--end=2026-01-02"], r"argument --end: must be an ISO 8601 .* got '2026-01-02'"),
        (["--end=2026-01-02T00:00Z", "--limit=0"], r"argument --limit: must be a whole number"),
    ],
)
def test_a_bad_range_is_refused_by_option_and_nothing_is_written(
    args: list[str], message: str
) -> None:
    before = snapshot()
    with pytest.raises(CommandError, match=message):
        backfill("hourly", "--start=2026-01-01T00:00Z", *args)
    assert snapshot() == before


def test_an_unknown_schedule_is_refused() -> None:
    with pytest.raises(CommandError, match="no schedule has job id 'nope'"):
        backfill("nope", "--start=2026-01-01T00:00Z", "--end=2026-01-01T03:00Z")
