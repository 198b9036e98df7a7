"""An execution runs the call it was claimed with (issue 21): the callable's name and its
arguments are kept on the Execution row when it is claimed or made by ``run_job_now``, never
read later from the schedule, which can be edited or deleted in between. A removed schedule's
executions that have not started are recorded as skipped and never run.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from django_schedules import add_job, modify_job, remove_job, run_job_now
from django_schedules.clock import ManualClock
from django_schedules.models import Execution, ExecutionStatus, Schedule
from django_schedules.runner import run_execution_now
from django_schedules.store.schedules import REMOVED_BEFORE_START
from tests.engine import jobs

from .conftest import RecordingExecutor, interval_schedule, make_scheduler

pytestmark = pytest.mark.django_db(transaction=True)


def claim_one(clock: ManualClock, job_id: str) -> tuple[int, int | None]:
    """Claim the schedule's due occurrence without running it: what a scheduler holds
    between its claim (ahead of the fire time) and the run."""
    executor = RecordingExecutor()
    make_scheduler(clock, executor).tick()
    [(execution_id, epoch)] = executor.submitted
    assert Execution.objects.get(pk=execution_id).job_id == job_id
    return execution_id, epoch


def test_the_claim_records_the_call_on_the_execution(clock: ManualClock) -> None:
    interval_schedule("kept", 60, args=[{"n": [1, {"x": None}], "é": "ü"}])
    execution_id, _epoch = claim_one(clock, "kept")
    row = Execution.objects.get(pk=execution_id)
    assert (row.func, row.args, row.kwargs) == (
        "engine.record",
        [{"n": [1, {"x": None}], "é": "ü"}],
        {},
    )


def test_an_edit_after_the_claim_changes_the_next_occurrence_not_the_claimed_one(
    clock: ManualClock,
) -> None:
    interval_schedule("edited", 60, kwargs={"tag": "as claimed"})
    executor = RecordingExecutor()
    scheduler = make_scheduler(clock, executor)
    scheduler.tick()
    modify_job("edited", kwargs={"tag": "as edited"})  # after the claim, before the run
    clock.advance(60)
    for _ in range(2):
        execution_id, epoch = executor.submitted.pop()
        assert run_execution_now(execution_id, epoch) == ExecutionStatus.SUCCEEDED
        scheduler.tick()
    assert jobs.RUNS == [("record", "as claimed"), ("record", "as edited")]


def test_a_run_now_keeps_the_arguments_of_the_moment_it_was_asked(clock: ManualClock) -> None:
    interval_schedule("manual", 3600, kwargs={"tag": "asked"}, next_run_at=None)
    execution = run_job_now("manual")
    modify_job("manual", kwargs={"tag": "changed later"})
    assert run_execution_now(execution.pk, None) == ExecutionStatus.SUCCEEDED
    assert jobs.RUNS == [("record", "asked")]


def test_a_removed_schedule_runs_nothing_it_had_claimed_or_been_asked_to_run(
    clock: ManualClock,
) -> None:
    interval_schedule("victim", 60, kwargs={"tag": "victim"})
    claimed_id, epoch = claim_one(clock, "victim")
    manual = run_job_now("victim")

    remove_job("victim")

    assert run_execution_now(claimed_id, epoch) == ""
    assert run_execution_now(manual.pk, None) == ""
    assert jobs.RUNS == []
    rows = Execution.objects.filter(job_id="victim").order_by("pk")
    assert [(r.pk, r.status, r.reason, r.schedule_id) for r in rows] == [
        (claimed_id, ExecutionStatus.SKIPPED, REMOVED_BEFORE_START, None),
        (manual.pk, ExecutionStatus.SKIPPED, REMOVED_BEFORE_START, None),
    ]
    # The history still says what would have run.
    assert {r.finished_at is not None and r.kwargs == {"tag": "victim"} for r in rows} == {True}


def test_a_run_already_going_when_its_schedule_is_removed_finishes_with_its_arguments(
    clock: ManualClock,
) -> None:
    interval_schedule("going", 60, kwargs={"tag": "going"})
    execution_id, epoch = claim_one(clock, "going")
    from django_schedules import store

    spec = store.start_execution(execution_id, epoch, "test-worker", clock.now(), "default")
    assert spec is not None
    remove_job("going")  # cancels only what has not started
    row = Execution.objects.get(pk=execution_id)
    assert (row.status, row.schedule_id, spec.kwargs) == (
        ExecutionStatus.RUNNING,
        None,
        {"tag": "going"},
    )


def test_the_issues_reproduction_through_runscheduler_once() -> None:
    """add_job, run_job_now, remove_job, then ``runscheduler --once``: the job does not run
    (before the fix it ran with no arguments)."""
    add_job("engine.record", "interval", hours=1, kwargs={"tag": "victim"}, id="victim")
    run_job_now("victim")
    remove_job("victim")
    call_command("runscheduler", "--once")
    assert jobs.RUNS == []
    assert list(Execution.objects.values_list("status", "kind")) == [("skipped", "manual")]


def test_deleting_schedules_from_the_admin_list_skips_their_pending_runs() -> None:
    """The change list's "delete selected" goes through remove_job, as a single delete."""
    add_job("engine.record", "interval", hours=1, kwargs={"tag": "a"}, id="a")
    add_job("engine.record", "interval", hours=1, kwargs={"tag": "b"}, id="b")
    pending = [run_job_now("a").pk, run_job_now("b").pk]
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    selected = list(Schedule.objects.values_list("pk", flat=True))
    data = {"action": "delete_selected", "_selected_action": selected, "post": "yes"}
    response = client.post(reverse("admin:django_schedules_schedule_changelist"), data)
    assert response.status_code == 302
    assert not Schedule.objects.exists()
    statuses = Execution.objects.filter(pk__in=pending).values_list("status", "reason")
    assert set(statuses) == {(ExecutionStatus.SKIPPED, REMOVED_BEFORE_START)}
