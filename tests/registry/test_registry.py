from __future__ import annotations

from datetime import UTC, datetime

import pytest

from django_schedules import job
from django_schedules.exceptions import JobAlreadyRegistered, JobNotRegistered
from django_schedules.registry import (
    JobContext,
    get_registered,
    lookup,
    register,
    registered_jobs,
    task_classes,
    unregister,
)
from tests.testapp import jobs


def test_autodiscover_registers_each_apps_jobs_module() -> None:
    names = {entry.name for entry in registered_jobs()}
    assert {"tests.testapp.jobs.add", "tests.testapp.jobs.noop", "testapp.renamed"} <= names


def test_a_bare_decorator_uses_the_dotted_name_and_returns_the_function() -> None:
    entry = get_registered("tests.testapp.jobs.add")
    assert entry.func is jobs.add
    assert jobs.add(2, 3) == 5  # the decorator returns the function unchanged
    assert entry.help == "Add two numbers."
    assert not entry.accepts_context and not entry.is_task


def test_a_named_job_is_found_by_its_name_and_by_the_object() -> None:
    entry = get_registered("testapp.renamed")
    assert entry.func is jobs.named_job
    assert lookup(jobs.named_job) is entry
    assert entry.help == "A job registered under a stable name."


def test_a_job_with_a_context_parameter_receives_the_context() -> None:
    entry = get_registered("tests.testapp.jobs.with_context")
    assert entry.accepts_context
    assert "context" not in entry.signature.parameters
    context = JobContext(fire_time=datetime(2025, 1, 1, tzinfo=UTC), execution_id=7, attempt=2)
    assert entry.call([1], {}, context) == (1, context)


def test_the_context_is_frozen() -> None:
    context = JobContext(fire_time=datetime(2025, 1, 1, tzinfo=UTC), execution_id=None)
    with pytest.raises(AttributeError):
        context.attempt = 3  # type: ignore[misc]


def test_the_context_may_not_be_passed_as_an_argument() -> None:
    entry = get_registered("tests.testapp.jobs.with_context")
    with pytest.raises(TypeError, match="'context' argument is supplied by the scheduler"):
        entry.bind([1], {"context": None})


def test_bind_names_the_job_and_the_problem() -> None:
    entry = get_registered("tests.testapp.jobs.add")
    with pytest.raises(TypeError, match=r"job 'tests\.testapp\.jobs\.add'.*missing a required"):
        entry.bind([], {})


def test_an_unknown_name_is_refused_with_the_name() -> None:
    with pytest.raises(JobNotRegistered, match=r"callable 'nope\.job' is not registered"):
        get_registered("nope.job")


def test_an_unregistered_function_is_refused() -> None:
    with pytest.raises(JobNotRegistered, match=r"'tests\.testapp\.jobs\.not_registered'"):
        lookup(jobs.not_registered)


def test_apschedulers_textual_reference_is_accepted() -> None:
    assert lookup("tests.testapp.jobs:add").func is jobs.add


def test_registering_the_same_function_again_replaces_the_entry() -> None:
    before = get_registered("tests.testapp.jobs.noop")
    again = register(jobs.noop)
    assert again == before and get_registered("tests.testapp.jobs.noop") is again


def test_two_callables_may_not_share_a_name() -> None:
    def other() -> None:
        pass

    with pytest.raises(JobAlreadyRegistered, match=r"'testapp\.renamed' is already registered"):
        job(name="testapp.renamed")(other)
    assert get_registered("testapp.renamed").func is jobs.named_job


@pytest.mark.parametrize("name", ["", "   ", 3])
def test_a_job_name_must_be_a_non_empty_string(name: object) -> None:
    with pytest.raises(TypeError, match="job name must be a non-empty string"):
        register(jobs.noop, name=name)  # type: ignore[arg-type]


def test_registered_jobs_are_sorted_by_name() -> None:
    names = [entry.name for entry in registered_jobs()]
    assert names == sorted(names)


def test_a_local_job_can_be_registered_and_removed() -> None:
    @job
    def local() -> None:
        """Local."""

    name = f"{__name__}.test_a_local_job_can_be_registered_and_removed.<locals>.local"
    try:
        assert get_registered(name).func is local
    finally:
        unregister(name)
    with pytest.raises(JobNotRegistered):
        get_registered(name)


def test_a_django_task_can_be_registered() -> None:
    if not task_classes():
        pytest.skip("neither django.tasks (Django 6) nor the django_tasks backport is installed")
    entry = get_registered("tests.testapp.jobs.a_task")
    assert entry.is_task and entry.task is jobs.a_task
    assert entry.func is jobs.a_task.func
    assert lookup(jobs.a_task) is entry and lookup(jobs.a_task.func) is entry
    assert entry.help == "Echo x, as a task."
    assert entry.call([4], {}) == 4
