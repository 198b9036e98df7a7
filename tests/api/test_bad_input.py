"""Every API call validates fully before writing: each bad input raises an error naming the
field and the value, and the tables are exactly as they were ("nothing half-written")."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from django_schedules import add_job, modify_job, reschedule_job, run_job_now
from django_schedules.exceptions import (
    ConflictingIdError,
    InvalidSchedule,
    JobNotRegistered,
    ScheduleExists,
    TriggerError,
)
from django_schedules.models import Execution
from django_schedules.registry import register, unregister
from django_schedules.triggers import CronTrigger
from tests.testapp import jobs

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def existing() -> None:
    """A schedule already in place: a failed call must leave it untouched too."""
    add_job(jobs.add, "interval", minutes=5, args=[1, 2], id="existing")


def fails(unchanged_db, error: type[Exception], match: str, call: Any, *a: Any, **kw: Any):
    with pytest.raises(error, match=match):
        call(*a, **kw)
    unchanged_db()


BAD_ADD_JOB: list[tuple[str, type[Exception], str, dict[str, Any]]] = [
    # unknown callable
    ("unknown callable", JobNotRegistered, r"'nope\.job' is not registered", {"func": "nope.job"}),
    (
        "unregistered function",
        JobNotRegistered,
        r"not_registered' is not registered",
        {"func": jobs.not_registered},
    ),
    # bad trigger and trigger arguments
    (
        "unknown trigger",
        TriggerError,
        r"trigger must be one of .* got 'hourly'",
        {"trigger": "hourly"},
    ),
    ("bad cron field", TriggerError, r"hour", {"trigger": "cron", "hour": 25}),
    ("unknown trigger argument", TriggerError, r"hours", {"trigger": "cron", "hours": 9}),
    ("bad zone", TriggerError, r"Mars/Olympus", {"trigger": "cron", "timezone": "Mars/Olympus"}),
    (
        "arguments with an object",
        TriggerError,
        r"trigger arguments \['hour'\]",
        {"trigger": CronTrigger(minute=1), "hour": 3},
    ),
    ("trigger of a wrong type", TriggerError, r"got 42", {"trigger": 42}),
    # arguments that do not bind
    ("missing argument", InvalidSchedule, r"missing a required argument: 'a'", {"args": []}),
    ("extra argument", InvalidSchedule, r"too many positional", {"args": [1, 2, 3]}),
    ("unknown keyword", InvalidSchedule, r"unexpected keyword argument 'c'", {"kwargs": {"c": 1}}),
    (
        "args not a list",
        InvalidSchedule,
        r"args must be a list or a tuple, got 'ab'",
        {"args": "ab"},
    ),
    ("kwargs not a dict", InvalidSchedule, r"kwargs must be a dict, got \[1\]", {"kwargs": [1]}),
    # not JSON-safe
    (
        "a datetime argument",
        InvalidSchedule,
        r"args\[0\] = datetime\.datetime\(.*\) is not JSON-safe",
        {"args": [datetime(2025, 1, 1, tzinfo=UTC)]},
    ),
    (
        "a nested Decimal",
        InvalidSchedule,
        r"kwargs\['b'\]\[0\] = Decimal\('1\.5'\) is not JSON-safe",
        {"args": [1], "kwargs": {"b": [Decimal("1.5")]}},
    ),
    ("NaN", InvalidSchedule, r"args\[0\] = nan is not JSON-safe", {"args": [float("nan")]}),
    (
        "a non-string key",
        InvalidSchedule,
        r"has the key 1, which is not JSON-safe",
        {"args": [{1: "x"}]},
    ),
    # other fields
    (
        "unknown executor",
        InvalidSchedule,
        r"executor must name a key .* got 'gpu'",
        {"executor": "gpu"},
    ),
    (
        "zero grace",
        InvalidSchedule,
        r"misfire_grace_time must be .* got 0",
        {"misfire_grace_time": 0},
    ),
    (
        "bool instances",
        InvalidSchedule,
        r"max_instances must be .* got True",
        {"max_instances": True},
    ),
    ("zero instances", InvalidSchedule, r"max_instances must be .* got 0", {"max_instances": 0}),
    (
        "coalesce not bool",
        InvalidSchedule,
        r"coalesce must be True or False, got 1",
        {"coalesce": 1},
    ),
    (
        "bad policy",
        InvalidSchedule,
        r"misfire_policy must be one of .* got 'later'",
        {"misfire_policy": "later"},
    ),
    (
        "contradicting policy",
        InvalidSchedule,
        r"coalesce=True means misfire_policy='run_once', which contradicts",
        {"coalesce": True, "misfire_policy": "skip"},
    ),
    (
        "zero timeout",
        InvalidSchedule,
        r"timeout must be .* greater than zero, or None, got 0",
        {"timeout": 0},
    ),
    ("inf timeout", InvalidSchedule, r"timeout must be .* got inf", {"timeout": float("inf")}),
    ("negative retries", InvalidSchedule, r"max_retries must be .* got -1", {"max_retries": -1}),
    ("negative delay", InvalidSchedule, r"retry_delay must be .* got -1", {"retry_delay": -1}),
    ("empty id", InvalidSchedule, r"id must be a non-empty string, got ''", {"id": ""}),
    ("long id", InvalidSchedule, r"id must be at most 200 characters, got 201", {"id": "x" * 201}),
    (
        "bad next run",
        InvalidSchedule,
        r"next_run_time must be .* got 'soon'",
        {"next_run_time": "soon"},
    ),
    ("bad source", InvalidSchedule, r"source must be one of .* got 'cli'", {"source": "cli"}),
]


@pytest.mark.parametrize(
    ("error", "match", "changes"),
    [case[1:] for case in BAD_ADD_JOB],
    ids=[case[0] for case in BAD_ADD_JOB],
)
def test_add_job_refuses_bad_input_and_writes_nothing(unchanged_db, error, match, changes):
    arguments: dict[str, Any] = {
        "func": jobs.add,
        "trigger": "interval",
        "args": [1],
        "id": "new",
        **({} if "trigger" in changes else {"minutes": 1}),
        **changes,
    }
    fails(unchanged_db, error, match, add_job, **arguments)


def test_a_duplicate_id_is_refused_and_writes_nothing(unchanged_db) -> None:
    fails(
        unchanged_db,
        ScheduleExists,
        "a schedule with job id 'existing' already exists; pass replace_existing=True",
        add_job,
        jobs.noop,
        "interval",
        seconds=1,
        id="existing",
    )


def test_apschedulers_exception_names_still_catch() -> None:
    with pytest.raises(ConflictingIdError):
        add_job(jobs.noop, "interval", seconds=1, id="existing")


def test_replace_existing_with_a_bad_argument_keeps_the_old_row(unchanged_db) -> None:
    fails(
        unchanged_db,
        InvalidSchedule,
        "missing a required argument",
        add_job,
        jobs.add,
        "interval",
        seconds=1,
        id="existing",
        replace_existing=True,
    )


BAD_CHANGES: list[tuple[type[Exception], str, dict[str, Any]]] = [
    (InvalidSchedule, r"cannot change colour", {"colour": "red"}),
    (InvalidSchedule, r"a schedule's id cannot be changed \(got id='x'\)", {"id": "x"}),
    (InvalidSchedule, r"too many positional", {"args": [1, 2, 3]}),
    (
        InvalidSchedule,
        r"do not fit the callable: job 'testapp\.renamed'",
        {"func": "testapp.renamed"},
    ),
    (JobNotRegistered, r"'nope' is not registered", {"func": "nope"}),
    (InvalidSchedule, r"is not JSON-safe", {"args": [object()]}),
    (TriggerError, r"got 'weekly'", {"trigger": "weekly"}),
    (InvalidSchedule, r"executor must name", {"executor": "gpu"}),
    (InvalidSchedule, r"max_instances must be", {"max_instances": -2}),
    # a good change with a bad one: neither is written
    (InvalidSchedule, r"timeout must be", {"name": "fine", "timeout": -1}),
]


@pytest.mark.parametrize(("error", "match", "changes"), BAD_CHANGES)
def test_modify_job_refuses_bad_input_and_writes_nothing(unchanged_db, error, match, changes):
    fails(unchanged_db, error, match, modify_job, "existing", **changes)


def test_reschedule_job_refuses_a_bad_trigger_and_writes_nothing(unchanged_db) -> None:
    fails(
        unchanged_db, TriggerError, "minute", reschedule_job, "existing", trigger="cron", minute=60
    )


def test_run_job_now_refuses_a_callable_that_disappeared() -> None:
    def temporary() -> None:
        pass

    entry = register(temporary, name="testapp.temporary")
    add_job("testapp.temporary", "interval", seconds=1, id="temp")
    unregister(entry.name)  # a deploy removed it
    with pytest.raises(JobNotRegistered, match=re.escape("'testapp.temporary' is not registered")):
        run_job_now("temp")
    assert not Execution.objects.filter(job_id="temp").exists()
