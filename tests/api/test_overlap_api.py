"""``overlap`` through the API, SCHEDULES_JOBS and the admin form: declared once in the options
table, a bad value refused naming the field and the value with nothing written, and
cancel_running refused on an executor that cannot stop a run."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_schedules import api
from django_schedules.exceptions import InvalidSchedule
from django_schedules.forms.schedule import ScheduleForm
from django_schedules.models import Schedule
from django_schedules.options import BY_NAME, FORM_FIELDS
from django_schedules.sync import declared_errors, sync_schedules
from tests.testapp import jobs

pytestmark = pytest.mark.django_db

EXECUTORS = {
    "default": {"BACKEND": "threadpool"},
    "processes": {"BACKEND": "processpool"},
    "dotted": {"BACKEND": "django_schedules.executors.ProcessPoolExecutor"},
}


@pytest.mark.parametrize("value", ["skip", "buffer_one", "buffer_all", "allow", ""])
def test_each_policy_is_stored_and_read_back(value: str) -> None:
    added = api.add_job(jobs.noop, "interval", hours=1, id="o", overlap=value)
    assert Schedule.objects.get(job_id="o").overlap == added.overlap == value


def test_no_policy_is_the_default_and_keeps_max_instances_meaning() -> None:
    added = api.add_job(jobs.noop, "interval", hours=1, id="o", max_instances=3)
    assert (added.overlap, added.max_instances) == ("", 3)
    assert BY_NAME["overlap"].default == ""
    assert api.add_job(jobs.noop, "interval", hours=1, id="n", overlap=None).overlap == ""


@pytest.mark.parametrize("value", ["Skip", "queue", "buffer", 1, True, ["skip"], "skip "])
def test_a_bad_policy_is_refused_naming_it_and_nothing_is_written(value: object) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        api.add_job(jobs.noop, "interval", hours=1, id="o", overlap=value)  # type: ignore[arg-type]
    assert caught.value.field == "overlap"
    assert f"got {value!r}" in str(caught.value)
    assert "'skip', 'buffer_one', 'buffer_all', 'cancel_running', 'allow'" in str(caught.value)
    assert not Schedule.objects.exists()


def test_modify_job_changes_the_policy_and_refuses_a_bad_one_writing_nothing() -> None:
    api.add_job(jobs.noop, "interval", hours=1, id="o", overlap="skip")
    assert api.modify_job("o", overlap="buffer_all").overlap == "buffer_all"
    with pytest.raises(InvalidSchedule, match=r"overlap must be one of .*got 'later'"):
        api.modify_job("o", overlap="later", name="renamed")
    row = Schedule.objects.get(job_id="o")
    assert (row.overlap, row.name) == ("buffer_all", "noop")


@override_settings(SCHEDULES_EXECUTORS=EXECUTORS)
def test_cancel_running_is_refused_where_the_executor_cannot_stop_a_run() -> None:
    with pytest.raises(InvalidSchedule) as caught:
        api.add_job(jobs.noop, "interval", hours=1, id="c", overlap="cancel_running")
    assert caught.value.field == "overlap"
    assert "executor 'default' is 'threadpool', which cannot" in str(caught.value)
    assert not Schedule.objects.exists()
    for name in ("processes", "dotted"):
        added = api.add_job(
            jobs.noop, "interval", hours=1, id=name, executor=name, overlap="cancel_running"
        )
        assert added.overlap == "cancel_running"
    # Moving such a schedule to a thread pool is refused too, and writes nothing.
    with pytest.raises(InvalidSchedule, match="needs an executor that can stop a run"):
        api.modify_job("processes", executor="default")
    assert Schedule.objects.get(job_id="processes").executor == "processes"
    api.add_job(jobs.noop, "interval", hours=1, id="t", overlap="skip")
    with pytest.raises(InvalidSchedule, match="'default' is 'threadpool'"):
        api.modify_job("t", overlap="cancel_running")
    assert Schedule.objects.get(job_id="t").overlap == "skip"


def test_cancel_running_on_a_tasks_executor_depends_on_its_engine(settings) -> None:
    # Celery and RQ can stop a run in their worker (tests/workers/test_cancel_running.py);
    # django-tasks-db's worker and the immediate backend cannot.
    settings.TASKS = {
        **settings.TASKS,
        "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]},
    }
    settings.SCHEDULES_EXECUTORS = {
        **EXECUTORS,
        "rq": {"BACKEND": "tasks", "OPTIONS": {"backend": "rq"}},
        "at_once": {"BACKEND": "tasks", "OPTIONS": {"backend": "default"}},
        "missing": {"BACKEND": "tasks", "OPTIONS": {"backend": "nowhere"}},
    }
    added = api.add_job(
        jobs.noop, "interval", hours=1, id="r", executor="rq", overlap="cancel_running"
    )
    assert added.overlap == "cancel_running"
    immediate = settings.TASKS["default"]["BACKEND"].split(".")[0]
    for name, what in (("at_once", f"'tasks' on {immediate}"), ("missing", "'tasks',")):
        with pytest.raises(InvalidSchedule) as caught:
            api.add_job(
                jobs.noop, "interval", hours=1, id=name, executor=name, overlap="cancel_running"
            )
        assert caught.value.field == "overlap"
        assert f"executor {name!r} is {what}" in str(caught.value)
    assert list(Schedule.objects.values_list("job_id", flat=True)) == ["r"]


def test_schedules_jobs_declares_a_policy() -> None:
    entry = {"func": "tests.testapp.jobs.noop", "trigger": "interval", "hours": 1}
    sync_schedules({"o": {**entry, "overlap": "buffer_one"}})
    assert Schedule.objects.get(job_id="o").overlap == "buffer_one"
    sync_schedules({"o": {**entry, "overlap": "allow"}})  # a definition: the sync updates it
    assert Schedule.objects.get(job_id="o").overlap == "allow"
    (error,) = declared_errors({"o": {**entry, "overlap": "sometimes"}})
    assert "overlap" in str(error) and "got 'sometimes'" in str(error)


def test_the_admin_form_edits_the_policy_from_the_table() -> None:
    assert "overlap" in FORM_FIELDS
    field = ScheduleForm.base_fields["overlap"]
    values = [value for value, _ in field.choices]  # type: ignore[attr-defined]
    assert values == ["", "skip", "buffer_one", "buffer_all", "cancel_running", "allow"]
    assert "still going" in str(field.help_text)
