"""The claim's steps, composed as the engine composes them (store/claim.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connection

from django_schedules import store
from django_schedules.models import Execution, Schedule

NOW = datetime(2025, 1, 15, 7, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)
pytestmark = pytest.mark.django_db


def due(job_id: str, at: datetime = NOW) -> Schedule:
    return Schedule.objects.create(
        job_id=job_id,
        func="tests.testapp.jobs.noop",
        trigger={},
        trigger_kind="interval",
        next_run_at=at,
    )


def test_the_steps_claim_a_batch_and_say_more_remain() -> None:
    first, second, _third = (
        due("a"),
        due("b", NOW + timedelta(seconds=1)),
        due("c", NOW + timedelta(seconds=2)),
    )
    Execution.objects.create(schedule=first, job_id="a", fire_time=NOW - TTL)  # pending
    epoch = store.take_lease("default", "me", TTL, "default")
    assert epoch == 1
    with store.claim_transaction("default", "me", epoch, using="default") as claim:
        assert not claim.fenced_out
        rows, more = claim.due_rows(NOW + timedelta(seconds=5), 2)
        assert [r.job_id for r in rows] == ["a", "b"] and more
        assert claim.live_counts(rows) == {first.pk: 1}
        plans = {
            first.pk: store.SchedulePlan(NOW + TTL, [store.NewExecution(NOW)]),
            second.pk: store.SchedulePlan(None, error="broken"),
        }
        claimed, errors = claim.record(rows, plans, NOW)
    assert [(c.job_id, c.fire_time) for c in claimed] == [("a", NOW)]
    assert errors == [(second.pk, "broken")]
    assert Execution.objects.get(pk=claimed[0].execution_id).epoch == epoch
    second.refresh_from_db()
    assert second.next_run_at is None and second.last_error == "broken"


def test_a_claim_transaction_of_a_lost_lease_is_fenced_out() -> None:
    due("a")
    assert store.take_lease("default", "me", TTL, "default") == 1
    with store.claim_transaction("default", "me", 2, using="default") as claim:
        assert claim.fenced_out


def test_the_one_retry_helper_runs_once_inside_a_transaction_when_asked() -> None:
    calls: list[int] = []

    def locked() -> None:
        calls.append(1)
        raise OperationalError("database is locked")

    assert connection.in_atomic_block  # the test's own transaction
    with pytest.raises(OperationalError):
        store.retry(locked, using="default", once_in_transaction=True)
    assert calls == [1]
    with pytest.raises(OperationalError):
        store.retry(locked, using="default", transient=True)
    assert calls == [1, 1]
    with pytest.raises(OperationalError):
        store.retry(locked, using="default", attempts=3, first_delay=0.001)
    assert calls == [1, 1, 1, 1, 1]


def test_database_now_reads_the_database_clock_in_utc() -> None:
    now = store.database_now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
