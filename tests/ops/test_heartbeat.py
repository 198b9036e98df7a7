"""The process heartbeat: every scheduler (leader or standby) keeps its SchedulerProcess row
fresh on the lease renewal cadence, expires the rows of dead ones, and removes its own on a
clean shutdown."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_schedules import __version__, store
from django_schedules.clock import ManualClock
from django_schedules.models import SchedulerProcess
from django_schedules.status import check_health
from tests.engine.conftest import NOW, RecordingExecutor, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


def row(owner: str) -> SchedulerProcess:
    return SchedulerProcess.objects.get(owner=owner)


def test_leader_and_standby_report_themselves_on_their_first_tick(clock: ManualClock) -> None:
    leader, standby = make_scheduler(clock), make_scheduler(clock)
    leader.tick()
    standby.tick()
    mine = row(leader.owner)
    assert mine.role == "leader" and mine.version == __version__
    assert mine.host and mine.pid and mine.last_tick_at == NOW and mine.lag == 0.0
    other = row(standby.owner)
    assert other.role == "standby" and other.lag is None
    health = check_health(ttl=15)
    assert health.status.leader is not None and health.status.leader.owner == leader.owner


def test_the_report_follows_the_renewal_cadence_not_every_tick(clock: ManualClock) -> None:
    scheduler = make_scheduler(clock, lease_ttl=9)
    scheduler.tick()
    clock.advance(1)
    scheduler.tick()
    assert row(scheduler.owner).last_tick_at == NOW  # not reported again yet
    clock.advance(2)  # a third of the TTL since the first report
    scheduler.tick()
    assert row(scheduler.owner).last_tick_at == NOW + timedelta(seconds=3)


def test_it_counts_firings_of_the_last_minute_and_its_lag(clock: ManualClock) -> None:
    executor = RecordingExecutor()
    for i in range(3):
        interval_schedule(f"h{i}", 60)
    scheduler = make_scheduler(clock, executor, lease_ttl=3)
    scheduler.tick()  # fires the three
    clock.advance(1)
    scheduler.tick()
    assert row(scheduler.owner).fired_last_minute == 3
    clock.advance(61)  # the firings are now older than a minute; the next is 1 s late
    scheduler.tick()
    assert row(scheduler.owner).fired_last_minute == 0


def test_a_standby_that_takes_over_reports_as_leader_at_once(clock: ManualClock) -> None:
    leader, standby = make_scheduler(clock, lease_ttl=3), make_scheduler(clock, lease_ttl=3)
    leader.tick()
    standby.tick()
    leader.lease.release()
    standby.tick()
    assert row(standby.owner).role == "leader"


def test_rows_of_silent_processes_expire(clock: ManualClock) -> None:
    store.report_process(
        store.ProcessReport(
            group="default",
            owner="dead:1:aa",
            host="dead",
            pid=1,
            version="0",
            role="leader",
            started_at=NOW,
        )
    )
    SchedulerProcess.objects.filter(owner="dead:1:aa").update(
        heartbeat_at=store.database_now() - timedelta(seconds=60)
    )
    scheduler = make_scheduler(clock, lease_ttl=3)
    scheduler.tick()
    assert list(SchedulerProcess.objects.values_list("owner", flat=True)) == [scheduler.owner]


def test_a_clean_shutdown_removes_the_row(clock: ManualClock) -> None:
    scheduler = make_scheduler(clock, lease_ttl=3)
    scheduler.run(once=True)
    assert not SchedulerProcess.objects.filter(owner=scheduler.owner).exists()
