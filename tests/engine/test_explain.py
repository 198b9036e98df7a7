from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from django_schedules import store
from django_schedules.models import Execution, ExecutionStatus, Schedule

from .conftest import NOW


def analyze(*models: type) -> None:
    """Fresh planner statistics, or the planner may prefer a scan of a small table."""
    with connection.cursor() as cursor:
        for model in models:
            table = connection.ops.quote_name(model._meta.db_table)  # type: ignore[attr-defined]
            if connection.vendor == "mysql":
                cursor.execute(f"ANALYZE TABLE {table}")
                cursor.fetchall()
            else:
                cursor.execute(f"ANALYZE {table}")


# transaction=True: ANALYZE TABLE commits implicitly on MariaDB/MySQL, which would leak these
# rows out of a rolled-back test into the next ones; a flush afterwards removes them.
@pytest.mark.django_db(transaction=True)
def test_the_probe_finds_the_earliest_run_through_its_index() -> None:
    Schedule.objects.bulk_create(
        Schedule(
            job_id=f"s{i}",
            func="engine.record",
            trigger={},
            trigger_kind="interval",
            next_run_at=NOW + timedelta(seconds=i),
            enabled=i % 10 != 0,
        )
        for i in range(3000)
    )
    # History as it looks: mostly finished runs, claimed under a handful of lease epochs.
    finished = [ExecutionStatus.SUCCEEDED] * 8 + [ExecutionStatus.FAILED, ExecutionStatus.SKIPPED]
    Execution.objects.bulk_create(
        Execution(
            job_id="x",
            fire_time=NOW + timedelta(seconds=i),
            status=finished[i % 10],
            epoch=1 + i // 500,
        )
        for i in range(3000)
    )
    analyze(Schedule, Execution)
    # The probe's two parts, built by the functions store.probe() builds its query from.
    earliest = store.earliest_run_query("default")
    assert "schedules_due_idx" in earliest.explain()
    # Either status-led index serves "pending, epoch NULL": the planner picks.
    manual = store.unclaimed_query("default")
    plan = manual.order_by().explain()
    assert "schedules_exec_pending_idx" in plan or "schedules_exec_status_idx" in plan, plan
