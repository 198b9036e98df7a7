"""A claim and an edit of the same schedule, interleaved at the worst point: the edit commits
after the claim read the due rows and before it moved them (issue 21's chaos run found the
consequence on MariaDB: an Execution at a fire time of the schedule's course before the edit).

The claim may only record occurrences for the rows its own UPDATE moved. Under READ COMMITTED
(Django's default on MariaDB and MySQL), reading the versions back after the UPDATE sees the
edit's committed version, one past the version the claim read, as if the claim had moved the
row. On SQLite the edit cannot commit inside the claim: it waits for the claim's write lock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections
from django.db.models import F

from django_schedules import store
from django_schedules.models import Execution, Schedule

NOW = datetime(2025, 1, 15, 7, 0, tzinfo=UTC)
EDITED = NOW + timedelta(hours=5)
TTL = timedelta(seconds=60)
pytestmark = pytest.mark.django_db(transaction=True)


def edit(pk: int, done: threading.Event) -> None:
    """An admin save, as every edit is: a new next_run_at and the version moved on."""
    try:
        Schedule.objects.filter(pk=pk).update(next_run_at=EDITED, version=F("version") + 1)
        done.set()
    finally:
        connections.close_all()


def test_an_edit_committed_between_the_claims_read_and_its_update_is_not_claimed() -> None:
    schedule = Schedule.objects.create(
        job_id="raced",
        func="tests.testapp.jobs.noop",
        trigger={},
        trigger_kind="interval",
        next_run_at=NOW,
    )
    epoch = store.take_lease("default", "me", TTL, "default")
    done = threading.Event()
    editor = threading.Thread(target=edit, args=(schedule.pk, done))
    with store.claim_transaction("default", "me", epoch, using="default") as claim:
        rows, _more = claim.due_rows(NOW + timedelta(seconds=5), 10)
        assert [r.job_id for r in rows] == ["raced"]
        editor.start()
        # On a server the edit commits now (the claim's read took no lock); on SQLite it
        # waits for the claim's write lock.
        committed_inside = done.wait(5)
        assert committed_inside == (connection.vendor != "sqlite")
        plans = {schedule.pk: store.SchedulePlan(NOW + TTL, [store.NewExecution(NOW)])}
        claimed, _errors = claim.record(rows, plans, NOW)
    editor.join(60)
    assert done.is_set()
    schedule.refresh_from_db()
    if committed_inside:
        # The edit won: the claim moved nothing and recorded nothing.
        assert claimed == []
        assert not Execution.objects.filter(schedule=schedule).exists()
        assert (schedule.next_run_at, schedule.version) == (EDITED, rows[0].version + 1)
    else:
        # The claim won, and the edit came after it.
        assert [c.fire_time for c in claimed] == [NOW]
        assert Execution.objects.filter(schedule=schedule, fire_time=NOW).count() == 1
        assert (schedule.next_run_at, schedule.version) == (EDITED, rows[0].version + 2)
