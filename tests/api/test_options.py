"""The options table (``django_schedules.options``) is the one home of each schedule option:
the API's signatures agree with it, every check names its field as data, and the forms place
errors through that field, never by reading the message."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from django_schedules import api, options
from django_schedules.changes import REMOVED_FROM_SETTINGS
from django_schedules.exceptions import InvalidSchedule, TriggerError
from django_schedules.forms import ScheduleForm
from django_schedules.forms.kinds import _field_for_error
from django_schedules.models import Schedule
from django_schedules.options import BY_NAME, MODIFIABLE, OPTIONS, UNSET
from django_schedules.signals import schedule_changed
from tests.testapp import jobs

NOW = datetime(2025, 1, 15, 7, 0, tzinfo=UTC)


class Bad:
    """A value no option accepts, with a repr an error message can be searched for."""

    def __repr__(self) -> str:
        return "<bad value>"


CHECKED = [option for option in OPTIONS if option.check is not None]


def keywords(function: Any) -> set[str]:
    return {
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind is not inspect.Parameter.VAR_KEYWORD
    }


def test_add_job_takes_exactly_the_table_s_options() -> None:
    assert keywords(api.add_job) == set(BY_NAME)


def test_build_schedule_takes_the_options_that_define_a_schedule() -> None:
    flags = {"jobstore", "replace_existing"}  # add_job's, not the schedule's
    assert keywords(api.build_schedule) - {"now"} == set(BY_NAME) - flags


def test_the_signature_defaults_are_the_table_s() -> None:
    for name, parameter in inspect.signature(api.add_job).parameters.items():
        if name in BY_NAME and parameter.default not in (UNSET, inspect.Parameter.empty):
            assert parameter.default == BY_NAME[name].default, name


def test_modify_job_accepts_the_modifiable_options_and_enabled() -> None:
    assert "enabled" in MODIFIABLE
    assert {option.name for option in OPTIONS if option.modifiable} == MODIFIABLE
    assert not MODIFIABLE & {"id", "jobstore", "replace_existing", "source"}


@pytest.mark.parametrize("option", CHECKED, ids=lambda option: option.name)
def test_each_check_refuses_a_bad_value_naming_the_field_and_the_value(
    option: options.Option,
) -> None:
    assert option.check is not None
    with pytest.raises(InvalidSchedule) as caught:
        option.check(Bad())
    assert caught.value.field == option.name
    assert option.name in str(caught.value)
    assert "<bad value>" in str(caught.value)


def test_an_option_not_given_takes_its_default() -> None:
    for option in CHECKED:
        assert option.clean(UNSET) == option.default


@pytest.mark.django_db
@pytest.mark.parametrize("name", [option.name for option in CHECKED], ids=lambda name: str(name))
def test_add_job_s_error_carries_the_field(name: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        api.add_job(jobs.noop, "interval", hours=1, id="x", **{name: Bad()})
    assert caught.value.field == name
    assert not Schedule.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    sorted(option.name for option in CHECKED if option.modifiable),
)
def test_modify_job_s_error_carries_the_field(name: str) -> None:
    api.add_job(jobs.noop, "interval", hours=1, id="x")
    with pytest.raises(InvalidSchedule) as caught:
        api.modify_job("x", **{name: Bad()})
    assert caught.value.field == name


@pytest.mark.django_db
def test_the_api_s_own_errors_carry_their_field() -> None:
    api.add_job(jobs.noop, "interval", hours=1, id="x")
    cases: list[tuple[Any, str]] = [
        (lambda: api.add_job(jobs.noop, "weekly"), "trigger"),
        (lambda: api.add_job(jobs.noop, args=5), "args"),
        (lambda: api.add_job(jobs.noop, kwargs=[1]), "kwargs"),
        (lambda: api.add_job(jobs.noop, args=[float("nan")]), "args"),
        (lambda: api.add_job(jobs.noop, next_run_time="soon"), "next_run_time"),
        (lambda: api.add_job(jobs.noop, coalesce=True, misfire_policy="skip"), "misfire_policy"),
        (lambda: api.modify_job("x", id="y"), "id"),
        (lambda: api.modify_job("x", source="admin"), "source"),
    ]
    for call, field in cases:
        with pytest.raises((InvalidSchedule, TriggerError)) as caught:
            call()
        assert caught.value.field == field, caught.value


@pytest.mark.django_db
def test_modify_job_pauses_and_resumes_in_one_transaction(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    actions: list[str] = []

    def record(**kwargs: Any) -> None:
        actions.append(kwargs["action"])

    schedule_changed.connect(record)
    calls: list[str] = []
    write_change = api._write_change

    def counted(job_id: str, change: Any) -> Any:
        calls.append(job_id)
        return write_change(job_id, change)

    monkeypatch.setattr(api, "_write_change", counted)
    try:
        with (
            time_machine.travel(NOW, tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            api.add_job(jobs.noop, "interval", hours=1, id="x")
            paused = api.modify_job("x", name="Paused", enabled=False)
        assert (paused.name, paused.enabled, calls) == ("Paused", False, ["x"])
        Schedule.objects.filter(job_id="x").update(last_error=REMOVED_FROM_SETTINGS)
        with (
            time_machine.travel(NOW + timedelta(minutes=150), tick=False),
            django_capture_on_commit_callbacks(execute=True),
        ):
            resumed = api.modify_job("x", enabled=True, max_retries=2)
        assert (resumed.enabled, resumed.max_retries, resumed.last_error) == (True, 2, "")
        # As resume_job: from the next occurrence after now, on the schedule's beat.
        assert resumed.next_run_at == NOW + timedelta(hours=3)
        assert calls == ["x", "x"]
        assert actions == ["added", "modified", "modified"]
        unchanged = api.modify_job("x", enabled=True)
        assert unchanged.version == resumed.version
    finally:
        schedule_changed.disconnect(record)


@pytest.mark.django_db
def test_modify_job_refuses_enabled_true_with_next_run_time_none() -> None:
    api.add_job(jobs.noop, "interval", hours=1, id="x")
    with pytest.raises(InvalidSchedule) as caught:
        api.modify_job("x", enabled=True, next_run_time=None)
    assert caught.value.field == "next_run_time"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ScheduleForm.Meta.fields)
def test_the_form_puts_an_api_error_on_the_field_it_names(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    field = name if name != "job_id" else "id"

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise InvalidSchedule("a message that names no field at all", field)

    monkeypatch.setattr("django_schedules.forms.schedule.build_schedule", refuse)
    form = ScheduleForm(
        data={
            "job_id": "x",
            "name": "X",
            "func": "tests.testapp.jobs.noop",
            "executor": "default",
            "misfire_policy": "run_once",
            "misfire_grace_time": "60",
            "max_instances": "1",
            "max_retries": "0",
            "retry_delay": "0",
            "trigger_kind": "interval",
            "timezone": "UTC",
            "interval_hours": "1",
        }
    )
    assert not form.is_valid()
    # Said under the field in the form's words: a sentence, ending with its full stop.
    assert form.errors[name] == ["A message that names no field at all."]


@pytest.mark.parametrize(
    ("kind", "field", "form_field"),
    [
        ("interval", "hours", "interval_hours"),
        ("cron", "day_of_week", "cron_day_of_week"),
        ("cron", "crontab", "crontab"),
        ("calendarinterval", "minute", "calendar_time"),
        ("date", "run_date", "run_date"),
        ("cron", "end_date", "end_date"),
    ],
)
def test_a_trigger_error_s_field_picks_the_form_field(
    kind: str, field: str, form_field: str
) -> None:
    # The message names another field: the attribute, not the text, decides.
    error = TriggerError("timezone is what this message mentions", field)
    assert _field_for_error(kind, error) == form_field
