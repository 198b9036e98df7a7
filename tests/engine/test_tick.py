from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import F

from django_schedules import scheduler as scheduler_module
from django_schedules import store
from django_schedules.clock import ManualClock
from django_schedules.dbclock import DbNow
from django_schedules.models import (
    Execution,
    ExecutionKind,
    ExecutionStatus,
    MisfirePolicy,
    Schedule,
    SchedulerLease,
)
from tests.engine import jobs

from .conftest import NOW, RecordingExecutor, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db


def statuses(job_id: str) -> list[tuple[str, str, str]]:
    return [
        (e.fire_time.isoformat(), e.kind, e.status)
        for e in Execution.objects.filter(job_id=job_id).order_by("fire_time")
    ]


def test_it_fires_a_due_schedule_once_and_moves_it_on(clock: ManualClock) -> None:
    schedule = interval_schedule("job", 60, kwargs={"tag": "a"})
    scheduler = make_scheduler(clock)
    scheduler.tick()
    scheduler.tick()
    execution = Execution.objects.get()
    assert (execution.status, execution.kind, execution.fire_time) == (
        ExecutionStatus.SUCCEEDED,
        ExecutionKind.SCHEDULED,
        NOW,
    )
    assert execution.result == "'ran a'" and execution.attempt == 1
    assert execution.worker and execution.duration is not None and execution.started_at
    schedule.refresh_from_db()
    assert schedule.next_run_at == NOW + timedelta(seconds=60)
    assert schedule.version == 2 and jobs.RUNS == [("record", "a")]


def test_it_fires_nothing_before_the_fire_time(clock: ManualClock) -> None:
    interval_schedule("job", 60, next_run_at=NOW + timedelta(seconds=10))
    scheduler = make_scheduler(clock)
    wait = scheduler.tick()
    assert not Execution.objects.exists()
    assert 0 < wait <= scheduler.poll_interval
    clock.advance(10)
    scheduler.tick()
    assert Execution.objects.get().fire_time == NOW + timedelta(seconds=10)


def test_it_sleeps_until_the_next_run_capped_by_the_poll_interval(clock: ManualClock) -> None:
    interval_schedule("job", 60, next_run_at=NOW + timedelta(seconds=0.2))
    scheduler = make_scheduler(clock, poll_interval=0.5)
    assert scheduler.tick() == pytest.approx(0.2)
    Schedule.objects.update(next_run_at=NOW + timedelta(hours=1))
    assert scheduler.tick() == 0.5


def test_a_standby_fires_nothing_while_the_leader_holds_the_lease(clock: ManualClock) -> None:
    interval_schedule("job", 60)
    standby_executor = RecordingExecutor()
    leader = make_scheduler(clock, RecordingExecutor())
    standby = make_scheduler(clock, standby_executor)
    leader.tick()
    standby.tick()
    assert standby_executor.submitted == [] and not standby.lease.held
    assert Execution.objects.count() == 1


def test_two_schedulers_sharing_a_lease_record_each_occurrence_once(clock: ManualClock) -> None:
    interval_schedule("job", 1)
    a, b = make_scheduler(clock), make_scheduler(clock)
    for _ in range(5):
        a.tick()
        b.tick()
        SchedulerLease.objects.update(expires_at=DbNow() - timedelta(seconds=1))  # hand over
        a.lease.lost()
        clock.advance(1)
    fires = list(Execution.objects.values_list("fire_time", flat=True))
    assert len(fires) == len(set(fires)) == 5


def test_a_paused_leader_that_wakes_after_a_takeover_fires_nothing(clock: ManualClock) -> None:
    interval_schedule("job", 60)
    old_executor = RecordingExecutor()
    old = make_scheduler(clock, old_executor)
    old.tick()  # takes the lease, fires 12:00
    SchedulerLease.objects.update(expires_at=DbNow() - timedelta(seconds=1))  # paused past TTL
    new = make_scheduler(clock)
    clock.advance(60)
    new.tick()  # takes over (epoch 2), adopts the pending 12:00 and fires 12:01
    before = set(Execution.objects.values_list("pk", "status"))
    old.tick()  # wakes up: its probe says the lease is no longer its own
    assert set(Execution.objects.values_list("pk", "status")) == before
    assert len(old_executor.submitted) == 1 and not old.lease.held


def test_an_old_holders_queued_run_does_not_start_after_a_takeover(clock: ManualClock) -> None:
    from django_schedules.executors import run_execution_now

    interval_schedule("job", 60)
    old_executor = RecordingExecutor()
    old = make_scheduler(clock, old_executor)
    old.tick()
    ((execution_id, old_epoch),) = old_executor.submitted
    SchedulerLease.objects.update(expires_at=DbNow() - timedelta(seconds=1))
    new = make_scheduler(clock)
    new.tick()  # adopts the pending row at epoch 2 and runs it
    assert Execution.objects.get(pk=execution_id).status == ExecutionStatus.SUCCEEDED
    assert run_execution_now(execution_id, old_epoch) == ""  # the old worker gets nothing
    assert jobs.RUNS == [("record", "")]


# The probe: lease row + earliest next run + "a manual run waits", in one SELECT.
IDLE_TICK_QUERIES = 1
# Inside the test's transaction, so the claim's own transaction shows as a savepoint:
# SAVEPOINT, fence (SELECT ... FOR UPDATE), due rows, live executions, UPDATE ... RETURNING
# the winners (MariaDB has no UPDATE ... RETURNING: one more SELECT reads them back),
# INSERT ... RETURNING, the metrics' counters (one upsert: the batch size and the occurrences
# recorded missed or skipped; docs/metrics.md), RELEASE. The tick runs the probe before it.
CLAIM_TICK_QUERIES = 8


@pytest.mark.parametrize("rows", [10, 300])
def test_an_idle_tick_costs_one_query_at_any_size(
    clock: ManualClock, rows: int, django_assert_num_queries
) -> None:
    for i in range(rows):
        interval_schedule(f"s{i}", next_run_at=NOW + timedelta(days=1))
    scheduler = make_scheduler(clock)
    scheduler.tick()  # takes the lease and does its first upkeep
    with django_assert_num_queries(IDLE_TICK_QUERIES):
        scheduler.tick()


@pytest.mark.parametrize("n", [3, 40])
def test_a_batch_claim_costs_the_same_for_any_batch_size(
    clock: ManualClock, n: int, django_assert_num_queries
) -> None:
    for i in range(n):
        interval_schedule(f"b{i}", 60)
    executor = RecordingExecutor()
    scheduler = make_scheduler(clock, executor)
    scheduler.tick()  # takes the lease, does its first upkeep, and fires the batch
    Execution.objects.all().delete()
    Schedule.objects.update(next_run_at=NOW)  # due again: measure a claim on its own
    executor.submitted.clear()
    read_back = 1 if connection.vendor == "mysql" else 0
    with django_assert_num_queries(CLAIM_TICK_QUERIES + read_back + 1):  # + the probe
        scheduler.tick()
    assert len(executor.submitted) == n


def test_a_standby_costs_one_read_per_pass(clock: ManualClock, django_assert_num_queries) -> None:
    leader, standby = make_scheduler(clock), make_scheduler(clock)
    leader.tick()
    standby.tick()
    with django_assert_num_queries(1):
        standby.tick()
    assert not standby.lease.held


def test_run_once_runs_the_latest_missed_occurrence_and_records_the_rest(
    clock: ManualClock,
) -> None:
    interval_schedule("job", 60, misfire_grace_time=30)
    clock.advance(10 * 60 + 45)  # 12:00 .. 12:10 missed (grace 30 s), 12:11 not yet
    make_scheduler(clock).tick()
    assert statuses("job") == [
        ("2030-01-07T12:00:00+00:00", "scheduled", "missed"),
        ("2030-01-07T12:10:00+00:00", "catch_up", "succeeded"),
    ]
    missed = Execution.objects.get(status=ExecutionStatus.MISSED)
    assert missed.reason == (
        "10 occurrences missed from 2030-01-07T12:00:00+00:00 to 2030-01-07T12:09:00+00:00"
    )
    assert Schedule.objects.get().next_run_at == NOW + timedelta(minutes=11)


def test_skip_runs_nothing_and_records_one_row_for_the_gap(clock: ManualClock) -> None:
    interval_schedule("job", 60, misfire_grace_time=30, misfire_policy=MisfirePolicy.SKIP)
    clock.advance(10 * 60 + 45)
    make_scheduler(clock).tick()
    assert statuses("job") == [("2030-01-07T12:00:00+00:00", "scheduled", "missed")]
    assert Execution.objects.get().reason.startswith("11 occurrences missed from")
    assert jobs.RUNS == []


def test_a_day_of_downtime_of_a_one_second_schedule_is_one_row(clock: ManualClock) -> None:
    interval_schedule("job", 1, misfire_policy=MisfirePolicy.SKIP, misfire_grace_time=0)
    clock.advance(86_400)
    make_scheduler(clock).tick()
    (missed, current) = Execution.objects.order_by("fire_time")
    assert missed.status == ExecutionStatus.MISSED and missed.fire_time == NOW
    assert missed.reason.startswith("more than 100000 occurrences missed from") or (
        missed.reason.startswith("86400 occurrences missed from")
    )
    assert current.status == ExecutionStatus.SUCCEEDED
    assert current.fire_time == NOW + timedelta(days=1)


def test_each_occurrence_within_the_grace_time_gets_its_own_row(clock: ManualClock) -> None:
    # max_instances (default 1) is enforced: with the first one pending, the others are
    # recorded as skipped, each with its own row.
    interval_schedule("job", 1, misfire_grace_time=60)
    clock.advance(2)
    make_scheduler(clock).tick()
    assert [s for _, _, s in statuses("job")] == ["succeeded", "skipped", "skipped"]


def test_run_all_runs_every_missed_occurrence_oldest_first_up_to_the_cap(
    clock: ManualClock, settings
) -> None:
    settings.SCHEDULES_MAX_CATCH_UP = 3
    interval_schedule(
        "job", 60, misfire_grace_time=30, misfire_policy=MisfirePolicy.RUN_ALL, max_instances=5
    )
    clock.advance(4 * 60 + 45)  # 12:00 .. 12:04 missed
    make_scheduler(clock).tick()
    assert statuses("job") == [
        ("2030-01-07T12:00:00+00:00", "catch_up", "succeeded"),
        ("2030-01-07T12:01:00+00:00", "catch_up", "succeeded"),
        ("2030-01-07T12:02:00+00:00", "catch_up", "succeeded"),
        ("2030-01-07T12:03:00+00:00", "scheduled", "missed"),
    ]
    assert Execution.objects.get(status="missed").reason.startswith("2 occurrences missed")


def test_occurrences_within_the_grace_time_all_run(clock: ManualClock) -> None:
    interval_schedule("job", 1, misfire_grace_time=60, max_instances=10)
    clock.advance(4)
    make_scheduler(clock).tick()
    assert [s for _, _, s in statuses("job")] == ["succeeded"] * 5


def test_max_instances_records_a_skipped_execution(clock: ManualClock) -> None:
    schedule = interval_schedule("job", 60)
    Execution.objects.create(
        schedule=schedule,
        job_id="job",
        fire_time=NOW - timedelta(minutes=1),
        status=ExecutionStatus.RUNNING,
    )
    make_scheduler(clock).tick()
    skipped = Execution.objects.get(fire_time=NOW)
    assert skipped.status == ExecutionStatus.SKIPPED
    assert skipped.reason == "max_instances reached (1 already running)"
    assert jobs.RUNS == []


def test_an_unregistered_callable_is_refused_and_never_stalls_the_others(
    clock: ManualClock,
) -> None:
    interval_schedule("gone", 60, func="os.system", args=["echo pwned"])
    interval_schedule("fine", 60)
    make_scheduler(clock).tick()
    refused = Execution.objects.get(job_id="gone")
    assert refused.status == ExecutionStatus.FAILED
    assert refused.reason == "callable not registered: 'os.system'"
    gone = Schedule.objects.get(job_id="gone")
    assert "not registered" in gone.last_error and gone.next_run_at == NOW + timedelta(minutes=1)
    assert Execution.objects.get(job_id="fine").status == ExecutionStatus.SUCCEEDED


def test_a_broken_trigger_parks_its_schedule_and_the_others_keep_firing(
    clock: ManualClock,
) -> None:
    bad = interval_schedule("bad", 60)
    Schedule.objects.filter(pk=bad.pk).update(trigger={"kind": "nonsense"})
    interval_schedule("fine", 60)
    scheduler = make_scheduler(clock)
    scheduler.tick()
    scheduler.tick()
    bad.refresh_from_db()
    assert bad.next_run_at is None and bad.last_error.startswith("invalid trigger")
    assert bad.last_error_at == NOW
    assert not Execution.objects.filter(job_id="bad").exists()
    assert Execution.objects.get(job_id="fine").status == ExecutionStatus.SUCCEEDED


def test_arguments_that_no_longer_bind_fail_the_run_and_mark_the_schedule(
    clock: ManualClock,
) -> None:
    interval_schedule("job", 60, kwargs={"nope": 1})
    make_scheduler(clock).tick()
    execution = Execution.objects.get()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.reason.startswith("arguments do not bind")
    assert "arguments do not bind" in Schedule.objects.get().last_error


def test_a_failing_job_records_its_traceback(clock: ManualClock) -> None:
    interval_schedule("job", 60, func="engine.boom")
    make_scheduler(clock).tick()
    execution = Execution.objects.get()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.reason == "RuntimeError: boom"
    assert "raise RuntimeError" in execution.traceback


def test_a_failed_run_is_retried_as_further_attempts(clock: ManualClock) -> None:
    interval_schedule(
        "job", 60, func="engine.flaky", kwargs={"failures": 2}, max_retries=2, retry_delay=0.001
    )
    make_scheduler(clock).tick()
    execution = Execution.objects.get()
    assert (execution.status, execution.attempt, execution.result) == ("succeeded", 3, "3")


def test_retries_stop_at_max_retries(clock: ManualClock) -> None:
    interval_schedule(
        "job", 60, func="engine.flaky", kwargs={"failures": 5}, max_retries=1, retry_delay=0.001
    )
    make_scheduler(clock).tick()
    execution = Execution.objects.get()
    assert (execution.status, execution.attempt) == ("failed", 2)
    assert execution.reason == "ValueError: attempt 2 fails"


def test_the_result_is_capped(clock: ManualClock, settings) -> None:
    settings.SCHEDULES_RESULT_MAX_CHARS = 100
    interval_schedule("job", 60, func="engine.big")
    make_scheduler(clock).tick()
    assert len(Execution.objects.get().result) == 100


def test_an_async_job_runs(clock: ManualClock) -> None:
    interval_schedule("job", 60, func="engine.async", args=[21])
    make_scheduler(clock).tick()
    assert Execution.objects.get().result == "42"


def test_a_manual_execution_is_dispatched(clock: ManualClock) -> None:
    schedule = interval_schedule("job", 60, next_run_at=NOW + timedelta(hours=1))
    scheduler = make_scheduler(clock)
    scheduler.tick()
    manual = Execution.objects.create(
        schedule=schedule,
        job_id="job",
        func="engine.record",
        fire_time=NOW,
        kind=ExecutionKind.MANUAL,
    )
    scheduler.tick()
    manual.refresh_from_db()
    assert manual.status == ExecutionStatus.SUCCEEDED and manual.epoch == 1


def test_an_unknown_executor_fails_the_execution(clock: ManualClock) -> None:
    interval_schedule("job", 60, executor="nowhere")
    make_scheduler(clock).tick()
    execution = Execution.objects.get()
    assert execution.status == ExecutionStatus.FAILED
    assert execution.reason == "executor 'nowhere' is not configured in SCHEDULES_EXECUTORS"


def test_a_running_execution_whose_heartbeat_expired_is_marked_lost(clock: ManualClock) -> None:
    schedule = interval_schedule("job", 60, next_run_at=NOW + timedelta(hours=1))
    stale = Execution.objects.create(
        schedule=schedule,
        job_id="job",
        fire_time=NOW - timedelta(hours=1),
        status=ExecutionStatus.RUNNING,
    )
    Execution.objects.filter(pk=stale.pk).update(heartbeat_at=DbNow() - timedelta(minutes=5))
    fresh = Execution.objects.create(
        schedule=schedule,
        job_id="job",
        fire_time=NOW - timedelta(hours=2),
        status=ExecutionStatus.RUNNING,
    )
    Execution.objects.filter(pk=fresh.pk).update(heartbeat_at=DbNow())
    make_scheduler(clock).tick()
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == ExecutionStatus.LOST and "heartbeat" in stale.reason
    assert fresh.status == ExecutionStatus.RUNNING


def test_an_exhausted_trigger_leaves_next_run_empty(clock: ManualClock) -> None:
    from django_schedules.triggers import DateTrigger

    Schedule.objects.create(
        job_id="once",
        func="engine.record",
        trigger=DateTrigger(NOW).to_dict(),
        trigger_kind="date",
        next_run_at=NOW,
    )
    scheduler = make_scheduler(clock)
    scheduler.tick()
    scheduler.tick()
    assert Schedule.objects.get().next_run_at is None
    assert Execution.objects.get().status == ExecutionStatus.SUCCEEDED


@pytest.mark.django_db
def test_the_leader_prunes_executions_older_than_keep_executions(clock) -> None:
    from django.test import override_settings
    from django.utils import timezone

    from django_schedules.models import Execution, ExecutionStatus

    old = Execution.objects.create(
        job_id="old", fire_time=NOW - timedelta(days=40), status=ExecutionStatus.SUCCEEDED
    )
    Execution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    running = Execution.objects.create(
        job_id="old-running", fire_time=NOW - timedelta(days=39), status=ExecutionStatus.RUNNING
    )
    Execution.objects.filter(pk=running.pk).update(created_at=timezone.now() - timedelta(days=39))
    recent = Execution.objects.create(
        job_id="recent", fire_time=NOW - timedelta(days=1), status=ExecutionStatus.SUCCEEDED
    )
    Execution.objects.filter(pk=recent.pk).update(created_at=timezone.now() - timedelta(days=1))
    with override_settings(SCHEDULES_KEEP_EXECUTIONS=timedelta(days=30)):
        make_scheduler(clock).tick()
    assert set(Execution.objects.values_list("job_id", flat=True)) == {"old-running", "recent"}


@pytest.mark.django_db
def test_keep_executions_none_keeps_everything(clock) -> None:
    from django.test import override_settings
    from django.utils import timezone

    from django_schedules.models import Execution, ExecutionStatus

    old = Execution.objects.create(
        job_id="old", fire_time=NOW - timedelta(days=400), status=ExecutionStatus.SUCCEEDED
    )
    Execution.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    with override_settings(SCHEDULES_KEEP_EXECUTIONS=None):
        make_scheduler(clock).tick()
    assert Execution.objects.filter(pk=old.pk).exists()


def test_an_occurrence_already_recorded_is_left_out_and_the_rest_of_the_batch_fires(
    clock: ManualClock,
) -> None:
    first, second, third = (interval_schedule(f"d{i}", 60) for i in range(3))
    # As if an earlier claim had recorded this occurrence: the unique (schedule, fire_time)
    # constraint, the last line of defence, keeps it single.
    Execution.objects.create(
        schedule=second, job_id="d1", fire_time=NOW, status=ExecutionStatus.SUCCEEDED
    )
    executor = RecordingExecutor()
    make_scheduler(clock, executor).tick()
    assert Execution.objects.filter(schedule=second).count() == 1
    assert Execution.objects.get(schedule=second).status == ExecutionStatus.SUCCEEDED
    claimed = Execution.objects.filter(status=ExecutionStatus.PENDING)
    assert sorted(claimed.values_list("job_id", flat=True)) == ["d0", "d2"]
    assert sorted(i for i, _ in executor.submitted) == sorted(e.pk for e in claimed)
    for schedule in (first, second, third):
        schedule.refresh_from_db()
        assert schedule.next_run_at == NOW + timedelta(seconds=60) and schedule.version == 2


def test_a_schedule_changed_during_the_claim_is_not_moved_on_nor_fired(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, edited = interval_schedule("kept", 60), interval_schedule("edited", 60)
    plan = scheduler_module.plan_schedule

    def plan_while_an_admin_saves(schedule: Any, live: int, **kwargs: Any) -> Any:
        # An admin save landing between the claim's read and its UPDATE: the version moved.
        Schedule.objects.filter(pk=edited.pk).update(
            version=F("version") + 1, next_run_at=NOW + timedelta(hours=5)
        )
        return plan(schedule, live, **kwargs)

    monkeypatch.setattr(scheduler_module, "plan_schedule", plan_while_an_admin_saves)
    executor = RecordingExecutor()
    make_scheduler(clock, executor).tick()
    assert list(Execution.objects.values_list("job_id", flat=True)) == ["kept"]
    assert len(executor.submitted) == 1
    edited.refresh_from_db()
    assert edited.next_run_at == NOW + timedelta(hours=5)  # the save stands
    kept.refresh_from_db()
    assert kept.next_run_at == NOW + timedelta(seconds=60) and kept.version == 2


@pytest.mark.parametrize(
    "missing",
    [
        ("update_from", "update_returning"),  # SQLite before 3.33
        ("update_returning", "insert_returning"),  # SQLite 3.33 and 3.34; MySQL
    ],
)
def test_a_database_without_update_from_or_returning_claims_the_same(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch, missing: tuple[str, ...]
) -> None:
    dialect = copy.copy(store.claim.dialect_for("default"))
    for feature in missing:
        setattr(dialect, feature, False)
    monkeypatch.setattr(store.claim, "dialect_for", lambda using: dialect)
    interval_schedule("ok", 60)
    interval_schedule("refused", 60, kwargs={"nope": 1})
    interval_schedule("taken", 60)
    Execution.objects.create(
        schedule=Schedule.objects.get(job_id="taken"),
        job_id="taken",
        fire_time=NOW,
        status=ExecutionStatus.SUCCEEDED,
    )
    executor = RecordingExecutor()
    make_scheduler(clock, executor).tick()
    ok = Execution.objects.get(job_id="ok")
    assert ok.status == ExecutionStatus.PENDING and ok.epoch == 1
    assert [i for i, _ in executor.submitted] == [ok.pk]
    assert Execution.objects.get(job_id="refused").status == ExecutionStatus.FAILED
    assert Execution.objects.filter(job_id="taken").count() == 1
    for schedule in Schedule.objects.all():
        assert schedule.next_run_at == NOW + timedelta(seconds=60) and schedule.version == 2
    refused = Schedule.objects.get(job_id="refused")
    assert "arguments do not bind" in refused.last_error and refused.last_error_at == NOW
