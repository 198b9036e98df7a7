"""Per-schedule queue and priority (issue 17): `add_job(..., queue=..., priority=...)`,
`modify_job`, `SCHEDULES_JOBS` and the admin, checked against the executor's tasks backend
(an error naming the field and the value, nothing written)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_schedules import api
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import Schedule
from tests.settings import TASKS, TASKS_PACKAGE
from tests.testapp import jobs

pytestmark = pytest.mark.django_db

DUMMY = f"{TASKS_PACKAGE}.backends.dummy.DummyBackend"
ROUTED = {
    "TASKS": {**TASKS, "queued": {"BACKEND": DUMMY, "QUEUES": ["schedules", "reports"]}},
    "SCHEDULES_EXECUTORS": {
        "default": {"BACKEND": "threadpool"},
        "q": {"BACKEND": "tasks", "OPTIONS": {"backend": "queued", "queue_name": "schedules"}},
    },
}


def add(**options: object) -> Schedule:
    return api.add_job(jobs.noop, "interval", seconds=60, id="routed", **options)


@override_settings(**ROUTED)
def test_a_schedule_keeps_its_queue_and_priority() -> None:
    add(executor="q", queue="reports", priority=-20)
    stored = Schedule.objects.get(job_id="routed")
    assert (stored.queue, stored.priority) == ("reports", -20)
    api.modify_job("routed", queue="", priority=None)  # back to the executor's own
    stored.refresh_from_db()
    assert (stored.queue, stored.priority) == ("", None)


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        (
            {"executor": "q", "queue": "nowhere"},
            "queue",
            "queue 'nowhere' is refused by tasks backend 'queued'",
        ),
        (
            {"executor": "q", "priority": 101},
            "priority",
            "priority must be from -100 to 100, got 101",
        ),
        ({"executor": "q", "priority": -101}, "priority", "got -101"),
        ({"executor": "q", "priority": True}, "priority", "got True"),
        ({"executor": "q", "priority": "5"}, "priority", "got '5'"),
        ({"executor": "q", "queue": 7}, "queue", "queue must be a string, got 7"),
        (
            {"queue": "reports"},
            "queue",
            "queue 'reports' needs a tasks executor; executor 'default'",
        ),
        ({"priority": 5}, "priority", "priority 5 needs a tasks executor"),
    ],
)
@override_settings(**ROUTED)
def test_a_bad_queue_or_priority_names_the_field_and_writes_nothing(
    options: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(InvalidSchedule) as raised:
        add(**options)
    assert raised.value.field == field and words in str(raised.value), str(raised.value)
    assert not Schedule.objects.exists()


@override_settings(**ROUTED)
def test_modify_job_checks_the_routing_against_the_new_executor() -> None:
    add(executor="q", queue="reports")
    with pytest.raises(InvalidSchedule) as raised:
        api.modify_job("routed", executor="default")
    assert raised.value.field == "queue" and "'reports'" in str(raised.value)
    with pytest.raises(InvalidSchedule) as raised:
        api.modify_job("routed", queue="elsewhere")
    assert raised.value.field == "queue" and "'elsewhere'" in str(raised.value)
    stored = Schedule.objects.get(job_id="routed")
    assert (stored.executor, stored.queue) == ("q", "reports")  # nothing written


@override_settings(**ROUTED)
def test_schedules_jobs_routes_and_refuses_a_bad_queue_writing_nothing() -> None:
    from django_schedules.sync import sync_schedules

    entry = {
        "func": "tests.testapp.jobs.noop",
        "trigger": "interval",
        "seconds": 60,
        "executor": "q",
    }
    sync_schedules({"routed": {**entry, "queue": "reports", "priority": 5}})
    stored = Schedule.objects.get(job_id="routed")
    assert (stored.queue, stored.priority) == ("reports", 5)
    with pytest.raises(InvalidSchedule, match=r"SCHEDULES_JOBS\['other'\]: .*queue 'nowhere'"):
        sync_schedules({"routed": entry, "other": {**entry, "queue": "nowhere"}})
    stored.refresh_from_db()
    assert stored.queue == "reports" and not Schedule.objects.filter(job_id="other").exists()


@override_settings(
    TASKS={**TASKS, "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["schedules"]}},
    RQ_QUEUES={"schedules": {"URL": "redis://127.0.0.1:6379/0"}},
    SCHEDULES_EXECUTORS={
        "default": {"BACKEND": "threadpool"},
        "rq": {"BACKEND": "tasks", "OPTIONS": {"backend": "rq", "queue_name": "schedules"}},
    },
)
def test_a_priority_on_a_backend_without_priorities_is_refused() -> None:
    """django-tasks-rq sets no priority: the backend's own refusal, on the field."""
    with pytest.raises(InvalidSchedule) as raised:
        add(executor="rq", priority=10)
    assert raised.value.field == "priority", str(raised.value)
    assert "priority 10 is refused by tasks backend 'rq'" in str(raised.value)
    assert "does not support setting priority" in str(raised.value)
    assert not Schedule.objects.exists()
