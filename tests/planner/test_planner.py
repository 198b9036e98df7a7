"""The planner as tables, without a database: misfire policies, coalescing, max instances,
the catch-up cap, refusals and jitter."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from django_schedules import job, planner, plans
from django_schedules.models import ExecutionKind, ExecutionStatus, MisfirePolicy
from django_schedules.planner import plan_schedule
from django_schedules.plans import DueSchedule, SchedulePlan
from django_schedules.triggers import IntervalTrigger

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HORIZON = NOW + timedelta(seconds=0.1)
MIN = timedelta(minutes=1)
START = NOW - 5 * MIN  # a minutely schedule that last ran six minutes ago

S, C = plans.SCHEDULED, plans.CATCH_UP
PENDING, MISSED, SKIPPED, FAILED = plans.PENDING, plans.MISSED, plans.SKIPPED, plans.FAILED


@job(name="planner.noop")
def noop() -> None:
    pass


@job(name="planner.add")
def add(a: int, b: int = 0) -> int:
    return a + b


def due(
    *,
    policy: str = plans.RUN_ONCE,
    grace: int | None = 30,
    max_instances: int = 10,
    trigger: str | None = None,
    func: str = "planner.noop",
    args: str = "[]",
    next_run_at: datetime = START,
) -> DueSchedule:
    if trigger is None:
        trigger = json.dumps(IntervalTrigger(seconds=60, start_date=START).to_dict())
    return DueSchedule(
        pk=1,
        version=1,
        job_id="j",
        name="",
        func=func,
        executor="default",
        trigger=trigger,
        args=args,
        kwargs="{}",
        misfire_grace_time=grace,
        misfire_policy=policy,
        max_instances=max_instances,
        timeout=None,
        next_run_at=next_run_at,
    )


def rows(plan: SchedulePlan) -> list[tuple[int, str, str]]:
    """Each planned row as (minutes from NOW of its fire time, kind, status)."""
    return [(round((e.fire_time - NOW) / MIN), e.kind, e.status) for e in plan.executions]


def test_the_planner_values_agree_with_the_model_choices() -> None:
    assert {plans.RUN_ONCE, plans.SKIP, plans.RUN_ALL} == set(MisfirePolicy.values)
    assert {S, C} < set(ExecutionKind.values)
    assert {PENDING, MISSED, SKIPPED, FAILED} < set(ExecutionStatus.values)


@pytest.mark.parametrize(
    ("policy", "grace", "now", "max_catch_up", "expected", "next_in"),
    [
        # Five missed, one on time: run_once and skip coalesce the missed into one record.
        (plans.RUN_ONCE, 30, NOW, 100, [(-5, S, MISSED), (0, S, PENDING)], 1),
        (plans.SKIP, 30, NOW, 100, [(-5, S, MISSED), (0, S, PENDING)], 1),
        # run_all runs each missed one as a catch-up, oldest first.
        (
            plans.RUN_ALL,
            30,
            NOW,
            100,
            [(m, C, PENDING) for m in range(-5, 0)] + [(0, S, PENDING)],
            1,
        ),
        # ... up to max_catch_up; the rest are recorded as missed in one row.
        (
            plans.RUN_ALL,
            30,
            NOW,
            2,
            [(-3, S, MISSED), (-5, C, PENDING), (-4, C, PENDING), (0, S, PENDING)],
            1,
        ),
        # Nothing on time: run_once runs the latest missed, records the four before it.
        (
            plans.RUN_ONCE,
            30,
            NOW - timedelta(seconds=1),
            100,
            [(-5, S, MISSED), (-1, C, PENDING)],
            0,
        ),
        (plans.SKIP, 30, NOW - timedelta(seconds=1), 100, [(-5, S, MISSED)], 0),
        # Two missed, or one: the latest runs, and only an earlier one is recorded.
        (
            plans.RUN_ONCE,
            30,
            NOW - 3 * MIN - timedelta(seconds=1),
            100,
            [(-5, S, MISSED), (-4, C, PENDING)],
            -3,
        ),
        (plans.RUN_ONCE, 30, NOW - 4 * MIN - timedelta(seconds=1), 100, [(-5, C, PENDING)], -4),
        # A grace longer than the gap, or none at all: every occurrence is on time.
        (plans.SKIP, 600, NOW, 100, [(m, S, PENDING) for m in range(-5, 1)], 1),
        (plans.RUN_ONCE, None, NOW, 100, [(m, S, PENDING) for m in range(-5, 1)], 1),
        # The catch-up cap also bounds on-time runs: the rest wait for the next claim.
        (plans.RUN_ONCE, None, NOW, 3, [(m, S, PENDING) for m in range(-5, -2)], -2),
    ],
)
def test_misfire_policies(
    policy: str,
    grace: int | None,
    now: datetime,
    max_catch_up: int,
    expected: list[tuple[int, str, str]],
    next_in: int,
) -> None:
    plan = plan_schedule(
        due(policy=policy, grace=grace),
        0,
        now=now,
        horizon=now + timedelta(seconds=0.1),
        max_catch_up=max_catch_up,
    )
    assert rows(plan) == expected
    assert plan.next_run_at == NOW + next_in * MIN
    assert plan.error == ""


@pytest.mark.parametrize(
    ("policy", "now", "max_catch_up", "reason"),
    [
        (plans.SKIP, NOW, 100, "5 occurrences missed from {-5} to {-1}"),
        (plans.RUN_ONCE, NOW - timedelta(seconds=1), 100, "4 occurrences missed from {-5} to {-2}"),
        (
            plans.RUN_ONCE,
            NOW - 3 * MIN - timedelta(seconds=1),
            100,
            "1 occurrence missed from {-5} to {-5}",
        ),
        (
            plans.RUN_ALL,
            NOW,
            4,
            "1 occurrence missed from {-1} to {-1} (beyond SCHEDULES_MAX_CATCH_UP)",
        ),
    ],
)
def test_the_missed_row_says_how_many_and_when(
    policy: str, now: datetime, max_catch_up: int, reason: str
) -> None:
    plan = plan_schedule(
        due(policy=policy),
        0,
        now=now,
        horizon=now + timedelta(seconds=0.1),
        max_catch_up=max_catch_up,
    )
    [missed] = [e for e in plan.executions if e.status == MISSED]
    expected = reason
    for m in range(-5, 0):
        expected = expected.replace(f"{{{m}}}", (NOW + m * MIN).isoformat())
    assert missed.reason == expected


def test_a_gap_past_max_walk_is_jumped_and_counted_as_a_lower_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(planner, "MAX_WALK", 3)
    plan = plan_schedule(due(policy=plans.SKIP), 0, now=NOW, horizon=HORIZON, max_catch_up=100)
    assert rows(plan) == [(-5, S, MISSED), (0, S, PENDING)]
    assert plan.executions[0].reason == (
        f"more than 3 occurrences missed from {(NOW - 5 * MIN).isoformat()}"
        f" to {(NOW - 3 * MIN).isoformat()}"
    )


@pytest.mark.parametrize(
    ("policy", "live", "max_instances", "expected"),
    [
        (plans.SKIP, 0, 1, [(-5, S, MISSED), (0, S, PENDING)]),
        (plans.SKIP, 1, 1, [(-5, S, MISSED), (0, S, SKIPPED)]),
        (plans.SKIP, 1, 2, [(-5, S, MISSED), (0, S, PENDING)]),
        # The runs it plans count too: the third catch-up finds two live.
        (
            plans.RUN_ALL,
            0,
            2,
            [(-5, C, PENDING), (-4, C, PENDING)]
            + [(m, C, SKIPPED) for m in range(-3, 0)]
            + [(0, S, SKIPPED)],
        ),
        (
            plans.RUN_ALL,
            1,
            2,
            [(-5, C, PENDING)] + [(m, C, SKIPPED) for m in range(-4, 0)] + [(0, S, SKIPPED)],
        ),
    ],
)
def test_max_instances_counts_live_runs(
    policy: str, live: int, max_instances: int, expected: list[tuple[int, str, str]]
) -> None:
    plan = plan_schedule(
        due(policy=policy, max_instances=max_instances),
        live,
        now=NOW,
        horizon=HORIZON,
        max_catch_up=100,
    )
    assert rows(plan) == expected
    for execution in plan.executions:
        if execution.status == SKIPPED:
            assert execution.reason == (f"max_instances reached ({max_instances} already running)")
            assert execution.run_at is None


@pytest.mark.parametrize(
    ("trigger", "error"),
    [
        ("not json", "invalid trigger: JSONDecodeError: "),
        ('{"kind": "nope"}', "invalid trigger: "),
        ("[]", "invalid trigger: "),
    ],
)
def test_a_bad_trigger_parks_the_schedule_with_an_error(trigger: str, error: str) -> None:
    plan = plan_schedule(due(trigger=trigger), 0, now=NOW, horizon=HORIZON, max_catch_up=100)
    assert plan.next_run_at is None
    assert plan.executions == []
    assert plan.error.startswith(error)


@pytest.mark.parametrize(
    ("func", "args", "error"),
    [
        ("nowhere.job", "[]", "callable not registered: 'nowhere.job'"),
        (
            "__main__.in_a_script",
            "[]",
            "callable not registered: '__main__.in_a_script' was registered in a script "
            "(__main__), so it can run only in that script's process: register it with "
            '@job(name="...") in an importable module',
        ),
        ("planner.noop", "[1]", "arguments do not bind: "),
        ("planner.add", "[1]", ""),
    ],
)
def test_a_refused_job_fails_each_run_and_moves_on(func: str, args: str, error: str) -> None:
    plan = plan_schedule(
        due(func=func, args=args, policy=plans.RUN_ALL),
        0,
        now=NOW,
        horizon=HORIZON,
        max_catch_up=100,
    )
    assert plan.error.startswith(error) and bool(plan.error) == bool(error)
    assert plan.next_run_at == NOW + MIN
    status = FAILED if error else PENDING
    assert rows(plan) == [(m, C, status) for m in range(-5, 0)] + [(0, S, status)]
    assert all(e.reason == plan.error[:500] for e in plan.executions)


@pytest.mark.parametrize("jitter", [None, 30.0])
def test_run_at_is_the_fire_time_plus_the_triggers_jitter(jitter: float | None) -> None:
    trigger = IntervalTrigger(seconds=60, start_date=START, jitter=jitter)
    plan = plan_schedule(
        due(trigger=json.dumps(trigger.to_dict()), grace=None),
        0,
        now=NOW,
        horizon=HORIZON,
        max_catch_up=100,
    )
    assert len(plan.executions) == 6
    offsets = []
    for execution in plan.executions:
        assert execution.run_at is not None and execution.run_at.tzinfo is UTC
        offset = execution.run_at - execution.fire_time
        assert offset == trigger.get_jitter(execution.fire_time)
        assert timedelta(0) <= offset < timedelta(seconds=jitter or 0.001)
        offsets.append(offset)
    assert (len(set(offsets)) > 1) == (jitter is not None)  # spread, not one fixed delay


@pytest.mark.parametrize(
    ("max_runs", "runs_started", "expected", "paused"),
    [
        # One occurrence due now (run_once coalesces the five missed into one catch-up).
        (None, 0, PENDING, ""),
        (3, 0, PENDING, ""),
        (3, 2, PENDING, ""),  # the last run it may start
        # At its limit: nothing starts, and the claim pauses it with the reason.
        (3, 3, SKIPPED, "run limit reached: max_runs=3 runs started"),
        # Lowered below what it already ran.
        (1, 4, SKIPPED, "run limit reached: max_runs=1 runs started"),
    ],
)
def test_the_run_limit_plans_no_run_past_it(
    max_runs: int | None, runs_started: int, expected: str, paused: str
) -> None:
    schedule = due(policy=plans.RUN_ONCE)
    schedule.max_runs, schedule.runs_started = max_runs, runs_started
    plan = plan_schedule(schedule, 0, now=NOW, horizon=HORIZON, max_catch_up=100)
    (run,) = [e for e in plan.executions if e.status != MISSED]
    assert run.status == expected
    assert plan.pause_reason == paused
    if paused:
        assert run.reason == paused


def test_the_run_limit_caps_a_catch_up_of_several_runs() -> None:
    # run_all with no grace limit: six due (five missed, one on time), two runs left: the
    # oldest two run, the other four are skipped.
    schedule = due(grace=None, policy=plans.RUN_ALL)
    schedule.max_runs, schedule.runs_started = 5, 3
    plan = plan_schedule(schedule, 0, now=NOW, horizon=HORIZON, max_catch_up=100)
    assert [e.status for e in plan.executions] == [PENDING] * 2 + [SKIPPED] * 4
    assert plan.pause_reason == ""  # the start of the fifth run pauses it
