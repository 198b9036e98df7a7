from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from django_schedules import add_job
from django_schedules.checks import (
    check_declared_jobs,
    check_executors,
    check_max_catch_up,
    check_sqlite_synchronous,
    check_sqlite_transaction_mode,
    check_unregistered_callables,
)
from django_schedules.models import Schedule
from tests.testapp import jobs


def test_the_default_executors_pass() -> None:
    assert check_executors(None) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "SCHEDULES_EXECUTORS must be a dict of names to dicts, got []"),
        ({"default": "threadpool"}, "SCHEDULES_EXECUTORS['default'] must be a dict with a BACKEND"),
        ({"default": {}}, "['BACKEND'] must be one of inline, processpool, tasks, threadpool"),
        ({"default": {"BACKEND": "gpu"}}, "or the dotted path of an executor class, got 'gpu'"),
        ({"default": {"BACKEND": "inline", "OPTIONS": []}}, "['OPTIONS'] must be a dict, got []"),
        ({"default": {"BACKEND": "inline", "WORKERS": 3}}, "has unknown keys ['WORKERS']"),
    ],
)
def test_it_rejects_a_badly_shaped_executors_setting(value, message) -> None:
    with override_settings(SCHEDULES_EXECUTORS=value):
        (error,) = check_executors(None)
    assert error.id == "django_schedules.E007" and message in error.msg


def test_a_dotted_backend_is_accepted() -> None:
    executors = {"default": {"BACKEND": "myproject.executors.Mine", "OPTIONS": {}}}
    with override_settings(SCHEDULES_EXECUTORS=executors):
        assert check_executors(None) == []


@override_settings(SCHEDULES_EXECUTORS={"heavy": {"BACKEND": "processpool"}})
def test_it_requires_a_default_executor() -> None:
    (error,) = check_executors(None)
    assert error.id == "django_schedules.E008" and "['heavy']" in error.msg


@override_settings(
    SCHEDULES_JOBS={
        "good": {"func": "tests.testapp.jobs.noop", "trigger": "cron", "hour": 9},
        "bad": {"func": "tests.testapp.jobs.noop", "trigger": "cron", "hour": 99},
        "gone": {"func": "tests.testapp.jobs.gone", "trigger": "cron"},
    }
)
def test_it_reports_each_invalid_declared_job() -> None:
    errors = check_declared_jobs(None)
    assert [e.id for e in errors] == ["django_schedules.E009"] * 2
    assert errors[0].msg.startswith("SCHEDULES_JOBS['bad']: ") and "99" in errors[0].msg
    assert (
        errors[1].msg.startswith("SCHEDULES_JOBS['gone']: ") and "not registered" in errors[1].msg
    )


def test_it_warns_about_sqlite_without_immediate_transactions(monkeypatch) -> None:
    assert check_sqlite_transaction_mode(None) == []  # the test settings use IMMEDIATE
    database = settings.DATABASES["default"]
    monkeypatch.setitem(database, "ENGINE", "django.db.backends.sqlite3")
    monkeypatch.setitem(database, "OPTIONS", {"timeout": 20})
    (warning,) = check_sqlite_transaction_mode(None)
    assert warning.id == "django_schedules.W001"
    assert "transaction_mode=None" in warning.msg
    assert '"transaction_mode"] = "IMMEDIATE"' in warning.hint
    monkeypatch.setitem(database, "OPTIONS", {"transaction_mode": "immediate"})
    assert check_sqlite_transaction_mode(None) == []


@override_settings(SCHEDULES_DATABASE="elsewhere")
def test_it_rejects_an_unknown_database_alias() -> None:
    (error,) = check_sqlite_transaction_mode(None)
    assert error.id == "django_schedules.E010" and "'elsewhere'" in error.msg


@pytest.mark.django_db
def test_it_warns_about_schedules_whose_callable_is_not_registered() -> None:
    add_job(jobs.noop, "interval", hours=1, id="fine")
    add_job(jobs.noop, "interval", hours=1, id="orphan")
    Schedule.objects.filter(job_id="orphan").update(func="removed.by.deploy")
    assert check_unregistered_callables(None) == []  # not a database run: no query
    assert check_unregistered_callables(None, databases=["other"]) == []
    (warning,) = check_unregistered_callables(None, databases=["default"])
    assert warning.id == "django_schedules.W002"
    assert "'orphan' runs 'removed.by.deploy'" in warning.msg


@pytest.mark.django_db
def test_the_database_check_runs_through_manage_py_check(capsys) -> None:
    add_job(jobs.noop, "interval", hours=1, id="orphan")
    Schedule.objects.filter(job_id="orphan").update(func="removed.by.deploy")
    call_command("check", "--database", "default")
    assert "django_schedules.W002" in capsys.readouterr().err


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "100"])
def test_it_rejects_a_max_catch_up_that_is_not_a_whole_number_above_zero(value) -> None:
    with override_settings(SCHEDULES_MAX_CATCH_UP=value):
        (error,) = check_max_catch_up(None)
    assert error.id == "django_schedules.E011" and f"got {value!r}" in error.msg


@pytest.mark.parametrize("value", ["OFF", "normal", "", None, 1])
def test_it_rejects_a_sqlite_synchronous_that_is_not_a_durable_level(value) -> None:
    with override_settings(SCHEDULES_SQLITE_SYNCHRONOUS=value):
        (error,) = check_sqlite_synchronous(None)
    assert error.id == "django_schedules.E012" and f"got {value!r}" in error.msg


@pytest.mark.parametrize("value", ["NORMAL", "FULL", "EXTRA"])
def test_it_accepts_each_durable_sqlite_synchronous(value) -> None:
    with override_settings(SCHEDULES_SQLITE_SYNCHRONOUS=value):
        assert check_sqlite_synchronous(None) == []


def test_each_new_check_is_registered() -> None:
    from django.core.checks.registry import registry

    checks = registry.get_checks()
    for check in (
        check_executors,
        check_max_catch_up,
        check_sqlite_synchronous,
        check_declared_jobs,
        check_sqlite_transaction_mode,
        check_unregistered_callables,
    ):
        assert check in checks
