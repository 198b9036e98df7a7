from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from django_schedules import store
from django_schedules.models import Schedule

NOW = datetime(2025, 1, 15, 7, 0, tzinfo=UTC)


def analyze(model: type[Schedule]) -> None:
    """Fresh planner statistics, or the planner may prefer a scan of a table it thinks empty."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()
        else:
            cursor.execute(f"ANALYZE {table}")


# A transaction test: ANALYZE TABLE commits implicitly on MySQL/MariaDB, so the rows must be
# flushed afterwards rather than rolled back.
@pytest.mark.django_db(transaction=True)
def test_the_due_query_uses_its_index() -> None:
    # 5,000 schedules: most due over the coming days, a few paused, a handful due now.
    Schedule.objects.bulk_create(
        Schedule(
            job_id=f"job-{i}",
            func="tests.testapp.jobs.noop",
            trigger={"version": 1, "kind": "interval"},
            trigger_kind="interval",
            enabled=i % 50 != 0,
            next_run_at=NOW + timedelta(seconds=60 * i - 300),
        )
        for i in range(5_000)
    )
    analyze(Schedule)
    # The claim's own read (store.claim.ClaimTransaction.due_rows), as the engine runs it.
    due = store.due_queryset(NOW, 101, "default")
    plan = due.explain()
    assert "schedules_due_idx" in plan, plan
    assert [s.job_id for s in Schedule.objects.due(NOW)] == [f"job-{i}" for i in range(1, 6)]
    assert [store.DueSchedule(*row).job_id for row in due] == [f"job-{i}" for i in range(1, 6)]
