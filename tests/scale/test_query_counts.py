"""Each admin page runs the same number of queries whatever the number of rows.

A page whose query count grows with the rows (an N+1 in a column, a filter that lists every
schedule) is slow at 100,000 schedules however fast each query is; benchmarks/scale.py times
the pages at that size, this pins the counts at 5 and at 200 rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_schedules import admin as schedules_admin
from django_schedules import api, store
from django_schedules.models import Execution, ExecutionStatus, Schedule, ScheduleSource
from tests.admin import admin_jobs

pytestmark = pytest.mark.django_db

SCHEDULES = reverse("admin:django_schedules_schedule_changelist")
EXECUTIONS = reverse("admin:django_schedules_execution_changelist")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STATUSES = [ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.LOST]
assert admin_jobs.send_report  # imported for its registration


def add_schedules(start: int, stop: int) -> None:
    """Schedules `start` to `stop` - 1, each with three executions (the last of each third
    failed), every seventh paused, of three sources."""
    template = api.build_schedule(
        admin_jobs.send_report, "interval", minutes=5, kwargs={"recipient": "a"}, id="t", now=NOW
    )
    fields = {
        f.attname: getattr(template, f.attname)
        for f in Schedule._meta.concrete_fields
        if f.attname not in ("id", "job_id", "name", "enabled", "source")
    }
    sources = list(ScheduleSource)
    schedules = Schedule.objects.bulk_create(
        Schedule(
            job_id=f"job-{i:04d}",
            name=f"Report {i}",
            enabled=i % 7 != 3,
            source=sources[i % 3],
            **fields,
        )
        for i in range(start, stop)
    )
    Execution.objects.bulk_create(
        Execution(
            schedule=schedule,
            job_id=schedule.job_id,
            name=schedule.name,
            fire_time=NOW - timedelta(minutes=5 * k),
            status=STATUSES[(i + k) % 3],
            started_at=NOW - timedelta(minutes=5 * k),
            duration=timedelta(seconds=1),
            worker="host:1",
            result="done",
            traceback="Traceback (most recent call last):\nValueError: x" if k == 0 else "",
        )
        for i, schedule in enumerate(schedules)
        for k in range(3)
    )


@pytest.fixture
def client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    return client


def queries_for(client: Client, url: str) -> int:
    """Queries of a second request to `url`: the first fills per-process caches (content
    types) that every later page finds full."""
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def busy_schedule() -> Schedule:
    return Schedule.objects.get(job_id="job-0000")


def newest_execution() -> Execution:
    found = Execution.objects.filter(schedule__job_id="job-0000").order_by("-fire_time").first()
    assert found is not None
    return found


# Every page: the session and the user. The schedule list: the status panel (the groups, from
# the leases and the process rows; then the database's clock, the lease, the processes, the
# oldest due and, the test's schedules being due, the overdue count, then the oldest claimed run
# waiting past its start time; then the schedules paused after failing, one query on the index
# schedules_failing_idx whatever the table's size), the capped count and the rows. The change
# form: the schedule, its last ten executions and its runs' charts (one aggregate over its
# last 7 days, admin/charts.py). The execution list: the capped count and the
# rows (one schedule: and that schedule's name for the filter). A form that edits the timing
# (the add form; the change form of a schedule made in the admin) also reads the exclusion
# calendars' names for its calendars field: one query, whatever the number of calendars.
PAGES: list[tuple[str, Callable[[], str], int]] = [
    ("schedule list", lambda: SCHEDULES, 13),
    ("schedule list, page 2", lambda: SCHEDULES + "?p=2", 13),
    ("schedule list, paused", lambda: SCHEDULES + "?enabled__exact=0", 13),
    ("schedule list, by kind", lambda: SCHEDULES + "?trigger_kind__exact=interval", 13),
    ("schedule list, last outcome", lambda: SCHEDULES + "?last_outcome=failed", 13),
    ("schedule list, never ran", lambda: SCHEDULES + "?last_outcome=never", 13),
    ("schedule list, by source", lambda: SCHEDULES + "?source=admin", 13),
    ("schedule list, search", lambda: SCHEDULES + "?q=job-000", 13),
    ("schedule list, sorted by next run", lambda: SCHEDULES + "?o=-4", 13),
    # One aggregate per filter with counts (enabled, kind, job, declared in).
    ("schedule list, filter counts", lambda: SCHEDULES + "?_facets=True", 17),
    ("schedule change form", lambda: f"{SCHEDULES}{busy_schedule().pk}/change/", 5),
    ("schedule add form", lambda: SCHEDULES + "add/", 3),
    ("execution list", lambda: EXECUTIONS, 4),
    ("execution list, failed", lambda: EXECUTIONS + "?status__exact=failed", 4),
    ("execution list, one schedule", lambda: f"{EXECUTIONS}?schedule={busy_schedule().pk}", 5),
    ("execution list, search", lambda: EXECUTIONS + "?q=job-000", 4),
    ("execution list, filter counts asked for", lambda: EXECUTIONS + "?_facets=True", 4),
    ("execution detail", lambda: f"{EXECUTIONS}{newest_execution().pk}/change/", 3),
]


@pytest.mark.parametrize(("page", "url", "expected"), PAGES, ids=[p[0] for p in PAGES])
def test_a_page_runs_as_many_queries_at_200_rows_as_at_5(
    client: Client, page: str, url: Callable[[], str], expected: int
) -> None:
    add_schedules(0, 5)
    few = queries_for(client, url())
    add_schedules(5, 200)
    many = queries_for(client, url())
    assert (few, many) == (expected, expected)


def report(owner: str, role: str) -> None:
    host, pid = owner.split(":")
    store.report_process(
        store.ProcessReport(
            group="default",
            owner=owner,
            host=host,
            pid=int(pid),
            version="0.1.0",
            role=role,
            started_at=NOW,
        )
    )


def panel_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        panels = [
            schedules_admin.scheduler_panel(schedules_admin.check_health(group))
            for group in store.scheduler_groups()
        ]
    assert panels
    return len(queries)


def overdue(count: int) -> None:
    ids = list(Schedule.objects.order_by("pk").values_list("pk", flat=True)[:count])
    Schedule.objects.filter(pk__in=ids).update(
        enabled=True, next_run_at=datetime.now(UTC) - timedelta(hours=1)
    )


def test_the_status_panel_runs_as_many_queries_with_many_processes_and_overdue() -> None:
    add_schedules(0, 200)
    report("alpha:1", "leader")
    overdue(5)
    few = panel_queries()
    for pid in range(2, 9):
        report(f"beta:{pid}", "standby")
    overdue(200)
    many = panel_queries()
    # Groups from the lease and the process rows; the clock, the lease, the processes, the
    # oldest due, the overdue count and the oldest claimed run waiting past its start time.
    assert (few, many) == (8, 8)


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(schedules_admin, "COUNT_CAP", 100)
    monkeypatch.setattr(schedules_admin.EstimatedCountPaginator, "cap", 100)
    yield 100


def test_above_the_cap_postgresql_shows_its_estimate_and_others_count(
    client: Client, small_cap: int
) -> None:
    add_schedules(0, 200)  # 600 executions
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE django_schedules_execution")
    with CaptureQueriesContext(connection) as queries:
        page = client.get(EXECUTIONS).content.decode()
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    if connection.vendor == "postgresql":
        assert any(q["sql"].startswith("EXPLAIN") for q in queries)
        assert counts and all("LIMIT 101" in sql for sql in counts)  # never a full count
        assert "Estimated: above 100 rows" in page
    else:
        assert len(counts) == 2  # capped, then exact
        assert "600 executions" in page
        assert "Estimated: above 100 rows" not in page
    assert len(queries) == 5


def test_at_or_under_the_cap_the_count_is_exact(client: Client, small_cap: int) -> None:
    add_schedules(0, 20)  # 60 executions
    page = client.get(EXECUTIONS).content.decode()
    assert "60 executions" in page
    assert "Estimated: above 100 rows" not in page


# The worker column's place in the execution list, which ?o= names by position.
WORKER = schedules_admin.ExecutionAdmin.list_display.index("worker")


def listing_order(queries: CaptureQueriesContext) -> str:
    """The ORDER BY of the query that reads the page's executions."""
    listing = next(q["sql"] for q in queries if "ORDER BY" in q["sql"] and "execution" in q["sql"])
    return str(listing.split("ORDER BY")[1])


def test_a_hand_written_sort_by_an_unindexed_column_is_ignored(client: Client) -> None:
    add_schedules(0, 5)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"{EXECUTIONS}?o={WORKER}").status_code == 200
    assert "worker" not in listing_order(queries)
    assert "fire_time" in listing_order(queries)


def test_within_one_schedule_every_column_sorts(client: Client) -> None:
    add_schedules(0, 5)
    url = f"{EXECUTIONS}?schedule={busy_schedule().pk}&o={WORKER}"
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert "worker" in listing_order(queries)


def test_the_source_filter_counts_each_choice(client: Client) -> None:
    add_schedules(0, 200)  # sources by i % 3: code, settings, admin
    page = client.get(SCHEDULES + "?_facets=True").content.decode()
    assert "Code (67)" in page
    assert "Settings (67)" in page
    assert "Admin (66)" in page
    filtered = client.get(SCHEDULES + "?_facets=True&enabled__exact=0").content.decode()
    paused = Schedule.objects.filter(enabled=False, source=ScheduleSource.ADMIN).count()
    assert f"Admin ({paused})" in filtered
