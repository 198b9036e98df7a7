from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from django_schedules import store
from django_schedules.claiming import claim_batch
from django_schedules.clock import ManualClock
from django_schedules.dbclock import DbNow
from django_schedules.lease import Lease
from django_schedules.models import Execution, SchedulerLease
from django_schedules.store import SchedulePlan

from .conftest import NOW, interval_schedule

TTL = timedelta(seconds=15)
pytestmark = pytest.mark.django_db


def expire(group: str = "default") -> None:
    """Move the lease's expiry into the past, by the database's clock."""
    SchedulerLease.objects.filter(group=group).update(expires_at=DbNow() - timedelta(seconds=1))


def test_it_takes_a_free_lease_at_epoch_one() -> None:
    assert store.take_lease("default", "a", TTL, "default") == 1
    lease = SchedulerLease.objects.get(group="default")
    assert (lease.owner, lease.epoch) == ("a", 1)
    assert lease.expires_at is not None and lease.acquired_at is not None


def test_it_refuses_a_lease_another_holder_has() -> None:
    assert store.take_lease("default", "a", TTL, "default") == 1
    assert store.take_lease("default", "b", TTL, "default") is None
    assert SchedulerLease.objects.get(group="default").owner == "a"


def test_groups_have_separate_leases() -> None:
    assert store.take_lease("one", "a", TTL, "default") == 1
    assert store.take_lease("two", "b", TTL, "default") == 1


def test_it_takes_an_expired_lease_with_the_next_epoch() -> None:
    store.take_lease("default", "a", TTL, "default")
    expire()
    assert store.take_lease("default", "b", TTL, "default") == 2


def test_only_the_holder_at_its_epoch_renews() -> None:
    store.take_lease("default", "a", TTL, "default")
    assert store.renew_lease("default", "a", 1, TTL, "default")
    assert not store.renew_lease("default", "b", 1, TTL, "default")
    assert not store.renew_lease("default", "a", 2, TTL, "default")


def test_a_holder_that_lost_the_lease_cannot_renew_its_successors_lease() -> None:
    # chancy's cautionary tale: a stalled leader wakes up and must not extend the new one.
    store.take_lease("default", "a", TTL, "default")
    expire()
    assert store.take_lease("default", "b", TTL, "default") == 2
    before = SchedulerLease.objects.get(group="default").expires_at
    assert not store.renew_lease("default", "a", 1, TTL * 100, "default")
    lease = SchedulerLease.objects.get(group="default")
    assert (lease.owner, lease.epoch, lease.expires_at) == ("b", 2, before)


def test_release_hands_the_lease_over_at_once() -> None:
    store.take_lease("default", "a", TTL, "default")
    assert store.release_lease("default", "a", 1, "default")
    assert store.take_lease("default", "b", TTL, "default") == 2


def test_release_by_a_former_holder_does_nothing() -> None:
    store.take_lease("default", "a", TTL, "default")
    expire()
    store.take_lease("default", "b", TTL, "default")
    assert not store.release_lease("default", "a", 1, "default")
    assert SchedulerLease.objects.get(group="default").owner == "b"


def test_a_claim_under_an_old_epoch_is_fenced_out_and_fires_nothing() -> None:
    interval_schedule("job")
    store.take_lease("default", "a", TTL, "default")
    expire()
    store.take_lease("default", "b", TTL, "default")
    planned: list[int] = []

    def planner(schedule: object, live: int) -> SchedulePlan:
        planned.append(1)
        return SchedulePlan(None)

    result = claim_batch(
        "default", "a", 1, horizon=NOW, batch=10, planner=planner, now=NOW, using="default"
    )
    assert result.fenced_out and planned == [] and not Execution.objects.exists()


def test_a_claim_under_an_expired_lease_is_fenced_out_even_if_nobody_took_it() -> None:
    interval_schedule("job")
    store.take_lease("default", "a", TTL, "default")
    expire()
    result = claim_batch(
        "default",
        "a",
        1,
        horizon=NOW,
        batch=10,
        planner=lambda s, live: SchedulePlan(None),
        now=NOW,
        using="default",
    )
    assert result.fenced_out


def test_the_lease_object_renews_every_third_of_its_ttl() -> None:
    clock = ManualClock(NOW)
    lease = Lease("default", ttl=15, clock=clock, using="default", owner="a")
    assert lease.acquire() and lease.epoch == 1
    assert not lease.renewal_due
    clock.advance(5)
    assert lease.renewal_due and lease.renew() and not lease.renewal_due


def test_the_lease_object_forgets_a_lease_it_lost() -> None:
    clock = ManualClock(NOW)
    lease = Lease("default", ttl=15, clock=clock, using="default", owner="a")
    lease.acquire()
    expire()
    Lease("default", ttl=15, clock=clock, using="default", owner="b").acquire()
    assert not lease.renew() and not lease.held


def test_expiry_is_judged_by_the_database_clock_in_utc() -> None:
    # On MySQL/MariaDB Now() is in the session zone: with +05:00 a lease with 15 s left would
    # read as expired hours ago, or live hours too long. DbNow() is UTC on every backend.
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SET time_zone = '+05:00'")
    try:
        store.take_lease("default", "a", TTL, "default")
        assert store.take_lease("default", "b", TTL, "default") is None
        lease = SchedulerLease.objects.get(group="default")
        assert lease.expires_at is not None
        left = lease.expires_at - datetime.now(UTC)
        assert timedelta(seconds=10) < left <= timedelta(seconds=16)
    finally:
        if connection.vendor == "mysql":
            with connection.cursor() as cursor:
                cursor.execute("SET time_zone = '+00:00'")


def test_a_lock_conflict_is_retried_quietly(caplog) -> None:
    from django.db import OperationalError

    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("database is locked")
        return "done"

    with caplog.at_level("DEBUG", logger="django_schedules.store"):
        assert store.retry_locked(flaky, using="default", first_delay=0.001) == "done"
    assert len(calls) == 3
    assert {r.levelname for r in caplog.records} == {"DEBUG"}


def test_other_database_errors_are_not_retried() -> None:
    from django.db import OperationalError

    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise OperationalError("no such table: nowhere")

    with pytest.raises(OperationalError, match="no such table"):
        store.retry_locked(broken, using="default")
    assert calls == [1]


@pytest.mark.django_db(transaction=True)
def test_our_transactions_begin_immediate_even_when_the_settings_do_not() -> None:
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    connection.ensure_connection()
    connection.transaction_mode = None  # as with Django's default OPTIONS
    try:
        with CaptureQueriesContext(connection) as ctx:
            store.take_lease("default", "a", TTL, "default")
        assert any(q["sql"] == "BEGIN IMMEDIATE" for q in ctx.captured_queries)
        assert connection.transaction_mode is None  # put back afterwards
    finally:
        connection.close()
