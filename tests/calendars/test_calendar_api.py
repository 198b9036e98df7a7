"""Exclusion calendars through the API and SCHEDULES_JOBS: add_calendar checks every entry
and writes nothing on a refusal; ``calendars=[...]`` is a schedule option (add_job,
modify_job, the sync) refusing an unknown name; a calendar in use cannot be removed."""

from __future__ import annotations

from datetime import date

import pytest

import django_schedules
from django_schedules import api
from django_schedules.api_calendars import add_calendar, get_calendar, remove_calendar
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import Calendar, Schedule
from django_schedules.options import BY_NAME, DEFINITION_FIELDS, FORM_FIELDS, MODIFIABLE
from django_schedules.sync import declared_errors, sync_schedules
from tests.testapp import jobs

pytestmark = pytest.mark.django_db


def test_add_calendar_stores_the_canonical_entries_and_replaces_them() -> None:
    added = django_schedules.add_calendar(
        "ops",
        dates=[date(2026, 12, 25), "2026-12-24"],
        ranges=[("2026-08-03", "2026-08-07")],
        weekly=["Sat 00:00-06:00"],
        yearly=["01-01"],
        timezone="Europe/Berlin",
    )
    row = Calendar.objects.get(name="ops")
    assert row.pk == added.pk
    assert (row.timezone, row.dates, row.ranges, row.weekly, row.yearly) == (
        "Europe/Berlin",
        ["2026-12-24", "2026-12-25"],
        [["2026-08-03", "2026-08-07"]],
        ["sat 00:00-06:00"],
        ["01-01"],
    )
    again = add_calendar("ops", weekly=["sun 00:00-06:00"], timezone="UTC")
    assert again.pk == added.pk and Calendar.objects.count() == 1
    assert (again.weekly, again.dates, again.timezone) == (["sun 00:00-06:00"], [], "UTC")
    assert get_calendar("ops") == again


def test_the_timezone_defaults_to_the_projects(settings) -> None:
    settings.TIME_ZONE = "America/New_York"
    assert add_calendar("ny").timezone == "America/New_York"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"name": "a;b"}, "name", "'a;b'"),
        ({"name": ""}, "name", "''"),
        ({"timezone": "Mars/Base"}, "timezone", "'Mars/Base'"),
        ({"dates": ["2026-02-30"]}, "dates", "'2026-02-30'"),
        ({"ranges": [("2026-01-02", "2026-01-01")]}, "ranges", "2026-01-02"),
        ({"weekly": ["saturdays"]}, "weekly", "'saturdays'"),
        ({"yearly": ["13-01"]}, "yearly", "'13-01'"),
        ({"description": "\x00"}, "description", "NUL"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field_and_nothing_is_written(
    kwargs, field, words
) -> None:
    add_calendar("kept", dates=["2026-01-01"])
    arguments = {"name": "kept", **kwargs}
    with pytest.raises(InvalidSchedule) as caught:
        add_calendar(**arguments)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert list(Calendar.objects.values_list("name", "dates")) == [("kept", ["2026-01-01"])]


def test_calendars_is_a_schedule_option_from_the_table() -> None:
    option = BY_NAME["calendars"]
    assert option.column == "calendars" and option.clean(option.default) == []
    assert "calendars" in MODIFIABLE and "calendars" in DEFINITION_FIELDS
    assert "calendars" in FORM_FIELDS


def test_add_job_and_modify_job_take_calendars_by_name() -> None:
    add_calendar("a", dates=["2026-01-01"])
    add_calendar("b", weekly=["sat 00:00-06:00"])
    added = api.add_job(jobs.noop, "interval", hours=1, id="j", calendars=["a", "b", "a"])
    assert Schedule.objects.get(job_id="j").calendars == added.calendars == ["a", "b"]
    assert api.modify_job("j", calendars=["b"]).calendars == ["b"]
    assert api.modify_job("j", calendars=None).calendars == []
    assert api.add_job(jobs.noop, "interval", hours=1, id="k").calendars == []


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (["nope"], "no calendar is named 'nope'"),
        ("a", "must be a list of calendar names, got 'a'"),
        ([1], "got 1"),
        (["a", "bad;name"], "'bad;name'"),
    ],
)
def test_an_unknown_or_bad_calendar_is_refused_naming_it_writing_nothing(value, words) -> None:
    add_calendar("a", dates=["2026-01-01"])
    with pytest.raises(InvalidSchedule) as caught:
        api.add_job(jobs.noop, "interval", hours=1, id="j", calendars=value)
    assert caught.value.field == "calendars"
    assert words in str(caught.value)
    assert not Schedule.objects.exists()
    api.add_job(jobs.noop, "interval", hours=1, id="j", calendars=["a"])
    with pytest.raises(InvalidSchedule, match="calendars"):
        api.modify_job("j", calendars=value, name="renamed")
    row = Schedule.objects.get(job_id="j")
    assert (row.calendars, row.name) == (["a"], "noop")


def test_schedules_jobs_declares_calendars() -> None:
    add_calendar("a", dates=["2026-01-01"])
    entry = {"func": "tests.testapp.jobs.noop", "trigger": "interval", "hours": 1}
    sync_schedules({"s": {**entry, "calendars": ["a"]}})
    assert Schedule.objects.get(job_id="s").calendars == ["a"]
    sync_schedules({"s": entry})  # a definition: the sync takes it away too
    assert Schedule.objects.get(job_id="s").calendars == []
    (error,) = declared_errors({"s": {**entry, "calendars": ["missing"]}})
    assert "no calendar is named 'missing'" in str(error)


def test_a_calendar_in_use_cannot_be_removed() -> None:
    add_calendar("a", dates=["2026-01-01"])
    api.add_job(jobs.noop, "interval", hours=1, id="j", calendars=["a"])
    with pytest.raises(InvalidSchedule, match="used by the schedules j") as caught:
        remove_calendar("a")
    assert caught.value.field == "name"
    assert Calendar.objects.filter(name="a").exists()
    api.modify_job("j", calendars=[])
    remove_calendar("a")
    assert not Calendar.objects.exists()


def test_the_system_check_reads_no_table_and_the_sync_checks_the_names(
    settings, django_assert_num_queries
) -> None:
    from django_schedules.checks import check_declared_jobs

    entry = {"func": "tests.testapp.jobs.noop", "trigger": "interval", "hours": 1}
    settings.SCHEDULES_JOBS = {"s": {**entry, "calendars": ["not-yet"]}}
    with django_assert_num_queries(0):  # checks run before migrations too
        assert check_declared_jobs(None) == []
    settings.SCHEDULES_JOBS = {"s": {**entry, "calendars": "not-a-list"}}
    with django_assert_num_queries(0):
        (error,) = check_declared_jobs(None)
    assert "must be a list of calendar names" in error.msg
    with pytest.raises(InvalidSchedule, match="no calendar is named 'not-yet'"):
        sync_schedules({"s": {**entry, "calendars": ["not-yet"]}})
    assert not Schedule.objects.exists()


def test_print_jobs_names_the_calendars_and_marks_an_excluded_next_run() -> None:
    import io

    add_calendar("all-2031", ranges=[("2031-01-01", "2031-12-31")], timezone="UTC")
    api.add_job(
        jobs.noop, "date", run_date="2031-06-01T12:00:00+00:00", id="d", calendars=["all-2031"]
    )
    api.add_job(jobs.noop, "interval", hours=1, id="plain")
    out = io.StringIO()
    api.print_jobs(out=out)
    lines = {line.split(":")[0].strip(): line for line in out.getvalue().splitlines()[1:]}
    assert "except in calendars all-2031, next run at: 2031-06-01" in lines["d"]
    assert "(not run: inside calendar 'all-2031')" in lines["d"]
    assert "calendar" not in lines["plain"]
