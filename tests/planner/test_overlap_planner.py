"""The overlap policies as tables, without a database: what an occurrence does while a run of
its schedule is still going (docs/overlap.md)."""

from __future__ import annotations

import dataclasses

import pytest

from django_schedules import plans
from django_schedules.models import OverlapPolicy
from django_schedules.planner import overlap_verdict, plan_schedule

from .test_planner import HORIZON, NOW, due

BUFFERED, SKIPPED, PENDING = plans.BUFFERED, plans.SKIPPED, plans.PENDING
WAIT_ONE = (BUFFERED, "overlap=buffer_one: buffered until the running run ends")
FULL_ONE = (SKIPPED, "overlap=buffer_one: the buffer is full (a run already waits)")
WAIT_ALL = (BUFFERED, "overlap=buffer_all: buffered until the running run ends")
FULL_ALL = (SKIPPED, "overlap=buffer_all: the buffer is full (100 runs already wait)")


def test_the_policy_values_agree_with_the_model_choices() -> None:
    names = ("NO_OVERLAP_POLICY", "OVERLAP_SKIP", "BUFFER_ONE", "BUFFER_ALL")
    ours = {getattr(plans, n) for n in names} | {plans.CANCEL_RUNNING, plans.ALLOW}
    assert ours == set(OverlapPolicy.values)


@pytest.mark.parametrize(
    ("overlap", "max_instances", "live", "buffered", "expected"),
    [
        # No policy: max_instances decides, as before overlap policies.
        ("", 1, 0, 0, None),
        ("", 1, 1, 0, (SKIPPED, "max_instances reached (1 already running)")),
        ("", 3, 2, 0, None),
        ("", 3, 3, 0, (SKIPPED, "max_instances reached (3 already running)")),
        # skip: one run at a time, whatever max_instances says.
        ("skip", 1, 0, 0, None),
        ("skip", 5, 1, 0, (SKIPPED, "overlap=skip: a run of the schedule is still going")),
        # allow: unbounded with max_instances 1 (the default), capped above it.
        ("allow", 1, 50, 0, None),
        ("allow", 2, 1, 0, None),
        ("allow", 2, 2, 0, (SKIPPED, "overlap=allow: max_instances reached (2 already running)")),
        # buffer_one: one waits, the next is skipped.
        ("buffer_one", 1, 0, 0, None),
        ("buffer_one", 1, 1, 0, WAIT_ONE),
        ("buffer_one", 1, 1, 1, FULL_ONE),
        # A buffered run not yet released (live 0): the new one queues behind it.
        ("buffer_one", 1, 0, 1, FULL_ONE),
        # buffer_all: up to MAX_BUFFERED wait, oldest first.
        ("buffer_all", 1, 1, 0, WAIT_ALL),
        ("buffer_all", 1, 0, 3, WAIT_ALL),
        ("buffer_all", 1, 1, plans.MAX_BUFFERED - 1, WAIT_ALL),
        ("buffer_all", 1, 1, plans.MAX_BUFFERED, FULL_ALL),
        # cancel_running: it always runs (the claim stops the running one).
        ("cancel_running", 1, 1, 0, None),
    ],
)  # fmt: skip
def test_each_policy_decides_an_overlapping_occurrence(
    overlap, max_instances, live, buffered, expected
) -> None:
    schedule = dataclasses.replace(due(max_instances=max_instances), overlap=overlap)
    assert overlap_verdict(schedule, live, buffered) == expected


def plan(overlap: str, live: int, buffered: int = 0, **kwargs):
    # Six occurrences due (five missed, one on time); run_all runs each of them.
    schedule = dataclasses.replace(
        due(policy=plans.RUN_ALL, grace=None, max_instances=1, **kwargs),
        overlap=overlap,
        buffered=buffered,
    )
    return plan_schedule(schedule, live, now=NOW, horizon=HORIZON, max_catch_up=100)


def statuses(result) -> list[str]:
    return [e.status for e in result.executions]


def test_buffer_one_buffers_the_first_and_skips_the_rest_and_counts_them() -> None:
    result = plan("buffer_one", live=1)
    assert statuses(result) == [BUFFERED] + [SKIPPED] * 5
    assert (result.overlap_buffered, result.overlap_skipped) == (1, 5)
    assert all(e.run_at is None for e in result.executions)


def test_buffer_all_buffers_every_occurrence_up_to_the_bound() -> None:
    result = plan("buffer_all", live=1)
    assert statuses(result) == [BUFFERED] * 6
    assert (result.overlap_buffered, result.overlap_skipped) == (6, 0)
    fires = [e.fire_time for e in result.executions]
    assert fires == sorted(fires)  # oldest first
    full = plan("buffer_all", live=1, buffered=plans.MAX_BUFFERED - 2)
    assert statuses(full) == [BUFFERED] * 2 + [SKIPPED] * 4
    assert (full.overlap_buffered, full.overlap_skipped) == (2, 4)


def test_buffer_one_with_nothing_going_runs_the_first_and_buffers_the_second() -> None:
    # One claim with several occurrences: the first runs, so the second meets it going.
    result = plan("buffer_one", live=0)
    assert statuses(result) == [PENDING, BUFFERED] + [SKIPPED] * 4


def test_skip_runs_one_and_counts_the_skipped() -> None:
    result = plan("skip", live=0)
    assert statuses(result) == [PENDING] + [SKIPPED] * 5
    assert (result.overlap_buffered, result.overlap_skipped) == (0, 5)
    assert not result.cancel_running


def test_allow_starts_every_occurrence_with_no_cap() -> None:
    result = plan("allow", live=3)
    assert statuses(result) == [PENDING] * 6
    assert (result.overlap_buffered, result.overlap_skipped) == (0, 0)


def test_cancel_running_asks_to_stop_the_running_one_only_when_one_is_going() -> None:
    going = plan("cancel_running", live=1)
    assert statuses(going) == [PENDING] * 6 and going.cancel_running
    idle = plans.SchedulePlan(None)
    assert not idle.cancel_running
    assert not plan("cancel_running", live=0).cancel_running


def test_without_a_policy_max_instances_keeps_its_meaning_and_counts_skips() -> None:
    result = plan("", live=1)
    assert statuses(result) == [SKIPPED] * 6
    assert result.overlap_skipped == 6
    reasons = {e.reason for e in result.executions}
    assert reasons == {"max_instances reached (1 already running)"}
