"""A burst (many schedules due at one instant) is claimed ahead of it: bursts.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from django_schedules import bursts
from django_schedules.bursts import MAX_LEAD, MIN_BURST, BurstLead
from django_schedules.clock import ManualClock
from django_schedules.models import Execution, Schedule

from .conftest import NOW, RecordingExecutor, interval_schedules, make_scheduler

LOOKAHEAD = 0.1


class Counter:
    """A `count(until)` that answers `rows` and remembers each call."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.calls: list[datetime] = []

    def __call__(self, until: datetime) -> int:
        self.calls.append(until)
        return self.rows


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_a_burst_within_reach_is_counted_once_and_claimed_ahead_by_its_cost() -> None:
    lead = BurstLead(LOOKAHEAD)
    lead.row_cost = 0.0002
    count = Counter(2000)
    # 2,000 rows at 0.2 ms, claimed then handed off: 0.8 s, of which the look-ahead's
    # half covers 0.05 s.
    assert lead.update(at(1.5), NOW, count) == pytest.approx(0.75)
    assert lead.update(at(1.5), at(0.2), count) == pytest.approx(0.75)
    assert count.calls == [at(1.5 + LOOKAHEAD / 2)]  # once per instant
    assert lead.reach(at(1.5)) == pytest.approx(0.75)


def test_the_lead_is_at_most_max_lead() -> None:
    lead = BurstLead(LOOKAHEAD)
    lead.row_cost = 0.01
    assert lead.update(at(1.0), NOW, Counter(5000)) == MAX_LEAD


@pytest.mark.parametrize(
    ("rows", "row_cost"),
    [
        (MIN_BURST - 1, 0.01),  # too few rows to be a burst, however slow
        (MIN_BURST, 0.0001),  # a burst whose claim fits in half the look-ahead
    ],
)
def test_a_claim_the_look_ahead_covers_gets_no_lead(rows: int, row_cost: float) -> None:
    lead = BurstLead(LOOKAHEAD)
    lead.row_cost = row_cost
    assert lead.update(at(1.0), NOW, Counter(rows)) == 0.0


@pytest.mark.parametrize("ahead", [LOOKAHEAD / 2, MAX_LEAD + LOOKAHEAD / 2 + 0.001, -5.0])
def test_an_instant_out_of_reach_is_not_counted(ahead: float) -> None:
    lead = BurstLead(LOOKAHEAD)
    count = Counter(5000)
    assert lead.update(at(ahead), NOW, count) == 0.0
    assert count.calls == []
    assert lead.reach(at(ahead)) == MAX_LEAD  # not counted: look that far ahead
    assert lead.update(None, NOW, count) == 0.0
    assert lead.reach(None) == 0.0


def test_a_rows_cost_is_learned_from_claims_of_a_burst_only() -> None:
    lead = BurstLead(LOOKAHEAD)
    assert lead.row_cost == bursts.FIRST_ROW_COST
    lead.claimed(MIN_BURST - 1, 100.0)  # a small claim is mostly its fixed cost
    assert lead.row_cost == bursts.FIRST_ROW_COST
    lead.claimed(1000, 0.1)
    assert lead.row_cost == pytest.approx(0.7 * bursts.FIRST_ROW_COST + 0.3 * 0.0001)


class HoldingExecutor(RecordingExecutor):
    """Holds each run until its own send time, as the tasks executor's outbox does."""

    holds_until_due = True


def burst_of(rows: int, instant: datetime) -> None:
    interval_schedules(rows, instant, seconds=3600, prefix="burst")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("executor", "handed_at_claim"), [(HoldingExecutor, True), (RecordingExecutor, False)]
)
def test_the_loop_claims_a_burst_ahead_and_hands_it_to_an_executor_that_holds_it(
    clock: ManualClock, executor: Any, handed_at_claim: bool
) -> None:
    burst_of(MIN_BURST * 2, at(1.5))
    recorder = executor()
    scheduler = make_scheduler(clock, recorder, lookahead=LOOKAHEAD, poll_interval=30)
    scheduler.bursts.row_cost = 0.01  # 200 rows: 4 s to claim and hand off, so MAX_LEAD
    scheduler.tick()  # takes the lease, counts the burst, claims it 1.5 s ahead
    pending = Execution.objects.filter(status="pending", fire_time=at(1.5))
    assert pending.count() == MIN_BURST * 2
    assert Schedule.objects.filter(next_run_at=at(1.5)).count() == 0  # moved on
    # The holding executor has the burst now; the other one a look-ahead before the instant.
    assert len(recorder.submitted) == (MIN_BURST * 2 if handed_at_claim else 0)
    clock.advance(1.5 - LOOKAHEAD)
    scheduler.tick()
    assert len(recorder.submitted) == MIN_BURST * 2


@pytest.mark.django_db
def test_the_loop_wakes_in_time_to_count_a_burst_and_claims_at_the_look_ahead_if_it_is_quick(
    clock: ManualClock,
) -> None:
    burst_of(MIN_BURST, at(10))
    scheduler = make_scheduler(clock, RecordingExecutor(), lookahead=LOOKAHEAD, poll_interval=30)
    scheduler.bursts.row_cost = 0.0001  # 100 rows: 20 ms, within half the look-ahead
    first = scheduler.tick()
    assert first == pytest.approx(10 - LOOKAHEAD / 2 - MAX_LEAD)  # wakes to count it
    clock.advance(first)
    second = scheduler.tick()  # counts: no lead, so it sleeps until the look-ahead
    assert second == pytest.approx(MAX_LEAD)
    assert not Execution.objects.exists()
    clock.advance(second)
    scheduler.tick()
    assert Execution.objects.count() == MIN_BURST


@pytest.mark.parametrize(("backend", "holds"), [("db", True), ("default", False)])
def test_the_tasks_executor_holds_a_burst_in_its_outbox_but_not_on_the_immediate_backend(
    backend: str, holds: bool
) -> None:
    from django_schedules.executors.djangotasks import TasksExecutor

    # The immediate backend runs the job in the caller's thread: handed a burst early, it
    # would hold the timer thread until the instant.
    assert TasksExecutor("t", {"backend": backend}, using="default").holds_until_due is holds


@pytest.mark.django_db
@pytest.mark.parametrize("compiled", [True, False])
def test_count_due_counts_enabled_schedules_up_to_the_cap(
    compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    from django_schedules import store
    from django_schedules.store.probe import _count_sql

    burst_of(3, NOW)
    Schedule.objects.bulk_create(
        [
            Schedule(job_id="later", func="engine.record", trigger={}, next_run_at=at(1)),
            Schedule(job_id="much-later", func="engine.record", trigger={}, next_run_at=at(5)),
            Schedule(
                job_id="off", func="engine.record", trigger={}, next_run_at=NOW, enabled=False
            ),
            Schedule(job_id="done", func="engine.record", trigger={}, next_run_at=None),
        ]
    )
    if not compiled:  # the ORM's count, used when the stand-in could not be found
        monkeypatch.setitem(_count_sql, ("default", connection.vendor, 10), None)
    assert store.count_due(at(-1), 10, "default") == 0
    assert store.count_due(NOW, 10, "default") == 3
    assert store.count_due(at(1), 10, "default") == 4
    assert store.count_due(at(1), 2, "default") == 2  # capped
    assert store.count_due(at(60), 10, "default") == 5
    # Compiled once, its stand-in found as a parameter on every database.
    assert (_count_sql[("default", connection.vendor, 10)] is not None) is compiled


def test_a_lead_is_for_its_instant_only_and_an_earlier_run_does_not_wipe_it() -> None:
    lead = BurstLead(LOOKAHEAD)
    lead.row_cost = 0.0002
    count = Counter(2000)
    assert lead.update(at(2.0), NOW, count) == pytest.approx(0.75)
    # A run added for now (an overdue resume, a manual next run) comes first and is claimed...
    assert lead.update(at(0.01), NOW, Counter(1)) == 0.0
    # ...then the burst is the earliest again: counted again, its lead back.
    assert lead.update(at(2.0), at(0.05), count) == pytest.approx(0.75)
    assert len(count.calls) == 2


def test_a_burst_counted_late_is_claimed_up_to_half_a_look_ahead_past_its_instant() -> None:
    lead = BurstLead(LOOKAHEAD)
    lead.row_cost = 0.01
    now = at(-0.5)  # counted half a second before the instant: claimed at once, lead 2 s
    assert lead.update(NOW, now, Counter(5000)) == MAX_LEAD
    # Not now + look-ahead + lead (1.6 s past the instant: a 1 s interval's next occurrence).
    assert lead.horizon(NOW, now) == at(LOOKAHEAD / 2)
    # Claimed on time, the horizon is the same; with no lead, the usual look-ahead.
    on_time = at(-(MAX_LEAD + LOOKAHEAD / 2))
    assert lead.horizon(NOW, on_time) == at(LOOKAHEAD / 2)
    assert BurstLead(LOOKAHEAD).horizon(NOW, now) == now + timedelta(seconds=LOOKAHEAD)


@pytest.mark.django_db(transaction=True)
def test_a_rows_cost_is_learned_from_rows_enqueued_inside_the_claim_too(
    clock: ManualClock,
) -> None:
    from django_schedules.executors.djangotasks import TasksExecutor

    # django-tasks-db on our database: every run is enqueued inside the claim, and none is
    # left to hand over after it.
    executor = TasksExecutor("queue", {"backend": "db", "queue_name": "schedules"}, using="default")
    assert executor.enqueues_in_transaction
    burst_of(MIN_BURST, NOW)
    scheduler = make_scheduler(clock, executor, lookahead=LOOKAHEAD)
    scheduler.tick()
    assert Execution.objects.count() == MIN_BURST
    assert scheduler.bursts.row_cost != bursts.FIRST_ROW_COST


def test_only_a_claim_hands_a_holding_executor_its_burst_early(clock: ManualClock) -> None:
    from django_schedules.store import Claimed

    holding = HoldingExecutor()
    scheduler = make_scheduler(clock, holding, lookahead=LOOKAHEAD)
    scheduler.bursts.lead = 1.5  # a burst counted for an instant 1.5 s ahead
    burst_run = Claimed(1, 1, "default", at(1.5), at(1.5))
    adopted = Claimed(2, 2, "default", at(1.5), at(1.5))  # a pending row, adopted meanwhile
    scheduler._schedule_start(burst_run, 1, early=scheduler.bursts.lead)
    scheduler._schedule_start(adopted, 1)
    assert [c.execution_id for c, _ in scheduler._timers.pop_due(NOW)] == [1]
    due = scheduler._timers.pop_due(at(1.5 - LOOKAHEAD))
    assert [c.execution_id for c, _ in due] == [2]
