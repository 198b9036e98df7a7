"""``max_runs`` through the API: declared once in the options table, checked naming the field
and the value, and a schedule paused at its limit resumes only once the limit is raised."""

from __future__ import annotations

import pytest

from django_schedules import api
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import Schedule
from django_schedules.sync import declared_errors, sync_schedules
from tests.testapp import jobs

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", [0, -1, 1.5, "3", True, 2**31])
def test_a_bad_run_limit_is_refused_naming_it_and_nothing_is_written(value: object) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        api.add_job(jobs.noop, "interval", hours=1, id="limited", max_runs=value)  # type: ignore[arg-type]
    assert caught.value.field == "max_runs"
    assert f"got {value!r}" in str(caught.value)
    assert not Schedule.objects.exists()


def test_a_run_limit_is_stored_and_changed() -> None:
    added = api.add_job(jobs.noop, "interval", hours=1, id="limited", max_runs=3)
    assert (added.max_runs, added.runs_started) == (3, 0)
    assert api.modify_job("limited", max_runs=None).max_runs is None


def test_a_schedule_at_its_limit_resumes_only_with_a_higher_limit() -> None:
    api.add_job(jobs.noop, "interval", hours=1, id="limited", max_runs=2)
    reason = "run limit reached: max_runs=2 runs started"
    Schedule.objects.filter(job_id="limited").update(
        runs_started=2, enabled=False, pause_reason=reason
    )
    with pytest.raises(InvalidSchedule) as caught:
        api.resume_job("limited")
    assert caught.value.field == "max_runs"
    assert "run limit is reached: max_runs=2, and 2 runs started" in str(caught.value)
    assert not Schedule.objects.get(job_id="limited").enabled
    with pytest.raises(InvalidSchedule, match="max_runs=2, and 2 runs started"):
        api.modify_job("limited", enabled=True, max_runs=2)
    resumed = api.modify_job("limited", enabled=True, max_runs=5)
    assert (resumed.enabled, resumed.max_runs, resumed.pause_reason) == (True, 5, "")


def test_schedules_jobs_declares_a_run_limit() -> None:
    entry = {"func": "tests.testapp.jobs.noop", "trigger": "interval", "hours": 1}
    sync_schedules({"limited": {**entry, "max_runs": 4}})
    assert Schedule.objects.get(job_id="limited").max_runs == 4
    (error,) = declared_errors({"limited": {**entry, "max_runs": 0}})
    assert "max_runs" in str(error) and "got 0" in str(error)


@pytest.mark.parametrize("value", [0, -2, 2.0, "5", False])
def test_a_bad_failure_limit_is_refused_naming_it_and_nothing_is_written(value: object) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        api.add_job(jobs.noop, "interval", hours=1, id="f", pause_after_failures=value)  # type: ignore[arg-type]
    assert caught.value.field == "pause_after_failures"
    assert f"got {value!r}" in str(caught.value)
    assert not Schedule.objects.exists()


def test_a_failure_limit_is_stored_and_declared_in_settings() -> None:
    assert api.add_job(jobs.noop, "interval", hours=1, id="f", pause_after_failures=3)
    assert Schedule.objects.get(job_id="f").pause_after_failures == 3
    entry = {"func": "tests.testapp.jobs.noop", "trigger": "interval", "hours": 1}
    sync_schedules({"declared": {**entry, "pause_after_failures": 2}})
    assert Schedule.objects.get(job_id="declared").pause_after_failures == 2
