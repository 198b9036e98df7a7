"""Migration 0003 (issue 21): executions not yet finished when it runs get their schedule's
arguments on the row, as a claim now records them; finished ones keep the empty default."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("django_schedules", "0002_execution_fire_time_index")]
AFTER = [("django_schedules", "0003_execution_call")]
WHEN = datetime(2030, 1, 1, tzinfo=UTC)


def migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


def test_live_executions_get_their_schedules_arguments() -> None:
    apps = migrate(BEFORE).loader.project_state(BEFORE).apps
    Schedule = apps.get_model("django_schedules", "Schedule")
    Execution = apps.get_model("django_schedules", "Execution")
    schedule = Schedule.objects.create(
        job_id="s",
        func="engine.record",
        args=[1, "two"],
        kwargs={"tag": "kept"},
        trigger={"kind": "date", "run_date": WHEN.isoformat()},
        trigger_kind="date",
    )
    ids = {
        status: Execution.objects.create(
            schedule=schedule,
            job_id="s",
            func="engine.record",
            fire_time=WHEN.replace(minute=minute),
            status=status,
        ).pk
        for minute, status in enumerate(["pending", "running", "succeeded"])
    }
    try:
        apps = migrate(AFTER).loader.project_state(AFTER).apps
        Execution = apps.get_model("django_schedules", "Execution")
        calls = {
            status: tuple(Execution.objects.values_list("args", "kwargs").get(pk=pk))
            for status, pk in ids.items()
        }
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert calls == {
        "pending": ([1, "two"], {"tag": "kept"}),
        "running": ([1, "two"], {"tag": "kept"}),
        "succeeded": ([], {}),
    }
