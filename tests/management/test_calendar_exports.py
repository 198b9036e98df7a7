"""exportschedules and importschedules carry the exclusion calendars (issue 19): a top-level
"calendars" list, created before the schedules that name them in one transaction; a calendar
that differs here stops the import, writing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError

from django_schedules import api, exports
from django_schedules.api_calendars import add_calendar
from django_schedules.models import Calendar, Schedule
from tests.testapp import jobs

from .test_exports import exported, run_import

pytestmark = pytest.mark.django_db


def calendars_snapshot() -> list[dict]:
    return [exports.calendar_to_dict(c) for c in Calendar.objects.order_by("name")]


def setup_two() -> None:
    add_calendar(
        "holidays",
        dates=["2030-12-25"],
        ranges=[("2030-08-01", "2030-08-15"), ("2030-06-01T22:00", "2030-06-02T02:00")],
        yearly=["01-01"],
        timezone="Europe/Berlin",
        description="Office closed",
    )
    add_calendar("weekends", weekly=["sat,sun 00:00-24:00"], timezone="UTC")
    api.add_job(jobs.noop, "interval", hours=1, id="j", calendars=["weekends", "holidays"])


def test_calendars_round_trip_with_the_schedules_naming_them(tmp_path: Path) -> None:
    setup_two()
    before = calendars_snapshot()
    text, _ = exported()
    document = json.loads(text)
    assert [c["name"] for c in document["calendars"]] == ["holidays", "weekends"]
    assert set(document["calendars"][0]) == set(exports.CALENDAR_FIELDS)
    path = tmp_path / "schedules.json"
    path.write_text(text)
    Schedule.objects.all().delete()
    Calendar.objects.all().delete()
    out, _ = run_import(path)  # a dry run: names the calendars, writes nothing
    assert "Would create calendar holidays" in out
    assert not Calendar.objects.exists() and not Schedule.objects.exists()
    out, _ = run_import(path, "--commit")
    assert "Created calendar weekends" in out
    assert calendars_snapshot() == before
    assert Schedule.objects.get(job_id="j").calendars == ["weekends", "holidays"]
    Schedule.objects.all().delete()
    out, _ = run_import(path, "--commit")  # the calendars are there: unchanged
    assert "Unchanged calendar holidays" in out
    assert calendars_snapshot() == before


def test_a_calendar_that_differs_here_stops_the_import(tmp_path: Path) -> None:
    setup_two()
    path = tmp_path / "schedules.json"
    path.write_text(exported()[0])
    Schedule.objects.all().delete()
    add_calendar("weekends", weekly=["sun 00:00-24:00"], timezone="UTC")
    with pytest.raises(CommandError, match="calendar 'weekends' exists here and differs"):
        run_import(path, "--commit")
    assert not Schedule.objects.exists()
    assert Calendar.objects.get(name="weekends").weekly == ["sun 00:00-24:00"]


@pytest.mark.parametrize(
    ("calendars", "schedule_calendars", "words"),
    [
        ([{"name": "x", "weekly": ["someday"]}], ["x"], "calendar 'x': weekly must hold"),
        ([{"name": "x", "colour": "red"}], ["x"], "calendar 'x': unknown field 'colour'"),
        ([{"name": "x"}, {"name": "x"}], ["x"], "calendar 'x' appears twice"),
        ([], ["missing"], "no calendar is named 'missing', in the file or here"),
        ("x", [], "calendars must be a list"),
    ],
)
def test_a_bad_calendar_is_refused_and_nothing_is_written(
    tmp_path: Path, calendars, schedule_calendars, words
) -> None:
    api.add_job(jobs.noop, "interval", hours=1, id="j")
    document = json.loads(exported()[0])
    document["calendars"] = calendars
    document["schedules"][0]["calendars"] = schedule_calendars
    Schedule.objects.all().delete()
    path = tmp_path / "schedules.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match=words):
        run_import(path, "--commit")
    assert not Schedule.objects.exists() and not Calendar.objects.exists()
