"""A schedule's runs drawn on its admin page (admin/charts.py): the last 24 hours and 7 days by
outcome, and the worst start lateness of each bar, from one query."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_schedules import api
from django_schedules.admin.charts import HOURS, run_history, windows
from django_schedules.models import Execution, ExecutionStatus, Schedule
from tests.admin.conftest import REPORT

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 29, 14, 20, tzinfo=UTC)  # Berlin moved its clocks on this day at 01:00 UTC
BERLIN = ZoneInfo("Europe/Berlin")


def make_schedule(job_id: str = "report") -> Schedule:
    return api.add_job(REPORT, "interval", id=job_id, minutes=5, kwargs={"recipient": "a"})


def run(schedule: Schedule, fire_time: datetime, status: str, late: float | None = 0.5) -> None:
    Execution.objects.create(
        schedule=schedule,
        job_id=schedule.job_id,
        name=schedule.name,
        fire_time=fire_time,
        status=status,
        started_at=None if late is None else fire_time + timedelta(seconds=late),
    )


def test_the_bars_are_whole_hours_and_local_days_a_clock_change_included() -> None:
    hours, days = windows(NOW, BERLIN)
    assert len(hours) == HOURS and hours[-1] == (
        datetime(2026, 3, 29, 14, tzinfo=UTC),
        datetime(2026, 3, 29, 15, tzinfo=UTC),
    )
    assert all(end - start == timedelta(hours=1) for start, end in hours)
    assert [end - start for start, end in days][-2:] == [timedelta(hours=24), timedelta(hours=23)]
    assert days[-1][0] == datetime(2026, 3, 28, 23, tzinfo=UTC)  # midnight in Berlin (CET)
    assert days[-1][1] == datetime(2026, 3, 29, 22, tzinfo=UTC)  # the next one (CEST)


def test_one_query_counts_each_bar_by_outcome_and_takes_its_worst_lateness() -> None:
    schedule = make_schedule()
    other = make_schedule("other")
    this_hour = datetime(2026, 3, 29, 14, 0, tzinfo=UTC)
    run(schedule, this_hour, ExecutionStatus.SUCCEEDED, late=0.25)
    run(schedule, this_hour + timedelta(minutes=5), ExecutionStatus.SUCCEEDED, late=2.5)
    run(schedule, this_hour + timedelta(minutes=10), ExecutionStatus.FAILED, late=0.75)
    run(schedule, this_hour - timedelta(hours=3), ExecutionStatus.MISSED, late=None)
    run(schedule, this_hour - timedelta(days=3), ExecutionStatus.LOST, late=1.0)
    run(schedule, this_hour - timedelta(days=30), ExecutionStatus.FAILED)  # out of both charts
    run(other, this_hour, ExecutionStatus.FAILED)  # another schedule's
    with CaptureQueriesContext(connection) as queries:
        history = run_history(schedule.pk, NOW, BERLIN, "default")
    assert len(queries) == 1
    last = history.hours[-1]
    assert (last.counts["succeeded"], last.counts["failed"], last.total) == (2, 1, 3)
    assert last.latest_start == timedelta(seconds=2.5)
    missed = history.hours[-4]
    assert (missed.counts["missed"], missed.total, missed.latest_start) == (1, 1, None)
    assert sum(bar.total for bar in history.hours) == 4
    today, lost_day = history.days[-1], history.days[-4]
    assert (today.total, today.counts["missed"], today.latest_start) == (
        4,
        1,
        timedelta(seconds=2.5),
    )
    assert (lost_day.counts["lost"], lost_day.latest_start) == (1, timedelta(seconds=1))
    assert sum(bar.total for bar in history.days) == 5


def test_a_backfilled_run_is_counted_but_its_start_is_not_lateness() -> None:
    schedule = make_schedule()
    fire = NOW - timedelta(minutes=10)
    run(schedule, fire, ExecutionStatus.SUCCEEDED, late=3.0)
    run(schedule, fire - timedelta(minutes=5), ExecutionStatus.SUCCEEDED, late=600.0)
    Execution.objects.filter(fire_time=fire - timedelta(minutes=5)).update(kind="backfill")
    last = run_history(schedule.pk, NOW, BERLIN, "default").hours[-1]
    assert (last.counts["succeeded"], last.latest_start) == (2, timedelta(seconds=3))


def test_the_change_page_draws_the_runs_for_staff_and_viewers(
    superuser: User, viewer: User, client_for
) -> None:
    schedule = make_schedule()
    now = datetime.now(UTC).replace(microsecond=0)
    run(schedule, now - timedelta(minutes=5), ExecutionStatus.SUCCEEDED, late=0.004)
    run(schedule, now - timedelta(minutes=10), ExecutionStatus.FAILED, late=1.5)
    url = reverse("admin:django_schedules_schedule_change", args=[schedule.pk])
    for user in (superuser, viewer):
        page = client_for(user).get(url).content.decode()
        assert 'id="schedules-charts"' in page
        assert 'aria-label="Runs, last 24 hours: 1 succeeded, 1 failed"' in page
        assert 'aria-label="Runs, last 7 days: 1 succeeded, 1 failed"' in page
        assert "Start lateness, last 24 hours: at most 1.5 s late" in page
        # Two bars with runs (or one, when both fell in the same hour), each with its tooltip.
        totals = [int(n) for n in re.findall(r'class="schedules-bar" data-total="(\d+)"', page)]
        assert len(totals) == 24 + 7 and sum(totals) == 4
        assert "<script" not in page.split('id="schedules-charts"')[1].split("</fieldset>")[0]


def test_a_schedule_with_no_runs_says_so(superuser: User, client_for) -> None:
    schedule = make_schedule()
    url = reverse("admin:django_schedules_schedule_change", args=[schedule.pk])
    page = client_for(superuser).get(url).content.decode()
    assert 'aria-label="Runs, last 24 hours: no runs"' in page
    assert "Start lateness, last 7 days: nothing started" in page


def test_the_add_page_draws_nothing(superuser: User, client_for) -> None:
    page = client_for(superuser).get(reverse("admin:django_schedules_schedule_add"))
    assert page.status_code == 200 and 'id="schedules-charts"' not in page.content.decode()


def test_the_list_shows_the_last_ten_outcomes_oldest_first_in_the_same_query(
    superuser: User, client_for
) -> None:
    schedule = make_schedule()
    make_schedule("never")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    statuses = (
        [ExecutionStatus.FAILED] + [ExecutionStatus.SUCCEEDED] * 10 + [ExecutionStatus.MISSED]
    )
    for k, status in enumerate(statuses):  # twelve runs: the oldest, a failure, falls off
        run(schedule, start + timedelta(minutes=5 * k), status)
    page = client_for(superuser).get(reverse("admin:django_schedules_schedule_changelist"))
    html = page.content.decode()
    assert html.count('class="schedules-sparkline"') == 1  # the schedule that never ran has none
    assert 'aria-label="Last 10 runs: 9 succeeded, 1 missed"' in html
    spark = html.split('class="schedules-sparkline"')[1].split("</svg>")[0]
    assert re.findall(r"<title>(\w+)</title></rect>", spark) == ["Succeeded"] * 9 + ["Missed"]
