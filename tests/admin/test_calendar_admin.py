"""Exclusion calendars in the admin: staff write one entry per line (not JSON), a bad line is
an error under its field naming it and nothing is written; a calendar in use is not deleted;
the schedule form ticks calendars by name; the preview marks the fire times they cover."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse

from django_schedules import api
from django_schedules.api_calendars import add_calendar
from django_schedules.models import Calendar, Schedule
from tests.admin.conftest import cron_form
from tests.testapp import jobs

ADD = reverse("admin:django_schedules_calendar_add")
CALENDARS = reverse("admin:django_schedules_calendar_changelist")
SCHEDULE_ADD = reverse("admin:django_schedules_schedule_add")
PREVIEW = reverse("admin:django_schedules_schedule_preview")


def calendar_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Public holidays",
        "timezone": "Europe/Berlin",
        "dates": "2026-12-25\n2026-12-26\n",
        "ranges": "2026-08-03 2026-08-07\n2026-06-01T22:00 2026-06-02T02:00",
        "weekly": "sat 00:00-06:00",
        "yearly": "01-01",
        "description": "Office closed",
    }
    data.update(overrides)
    return data


def test_staff_add_a_calendar_line_by_line(superuser: User, client_for: Any, settings) -> None:
    settings.TIME_ZONE = "Asia/Tokyo"
    client = client_for(superuser)
    page = client.get(ADD).content.decode()
    assert "One day per line, as YYYY-MM-DD" in page and "sat 00:00-06:00" in page
    assert 'name="timezone" value="Asia/Tokyo"' in page  # as add_calendar defaults
    assert client.post(ADD, calendar_form()).status_code == 302
    row = Calendar.objects.get(name="Public holidays")
    assert row.dates == ["2026-12-25", "2026-12-26"]
    assert row.ranges == [
        ["2026-06-01T22:00:00", "2026-06-02T02:00:00"],
        ["2026-08-03", "2026-08-07"],
    ]
    assert (row.weekly, row.yearly, row.timezone) == (
        ["sat 00:00-06:00"],
        ["01-01"],
        "Europe/Berlin",
    )
    change = client.get(reverse("admin:django_schedules_calendar_change", args=[row.pk]))
    assert "2026-12-25\n2026-12-26" in change.content.decode()  # shown line by line again
    listing = client.get(CALENDARS).content.decode()
    assert "Public holidays" in listing and "2 dates" in listing


def test_a_bad_line_is_an_error_under_its_field_and_nothing_is_written(
    superuser: User, client_for: Any
) -> None:
    client = client_for(superuser)
    for field, value, words in [
        ("dates", "2026-02-30", "'2026-02-30'"),
        ("ranges", "2026-08-07 2026-08-03", "before its first"),
        ("weekly", "saturdays", "'saturdays'"),
        ("yearly", "13-01", "'13-01'"),
        ("timezone", "Mars/Base", "'Mars/Base'"),
        ("name", "a;b", "'a;b'"),
    ]:
        response = client.post(ADD, calendar_form(**{field: value}))
        assert response.status_code == 200, field
        errors = response.context["adminform"].form.errors
        assert words in " ".join(errors[field]), (field, errors)
    assert not Calendar.objects.exists()


def test_a_calendar_in_use_is_not_deleted(superuser: User, client_for: Any) -> None:
    calendar = add_calendar("ops", dates=["2026-01-01"])
    api.add_job(jobs.noop, "interval", hours=1, id="j", calendars=["ops"])
    client = client_for(superuser)
    page = client.get(reverse("admin:django_schedules_calendar_change", args=[calendar.pk]))
    assert "Used by" in page.content.decode() and ">j<" in page.content.decode()
    url = reverse("admin:django_schedules_calendar_delete", args=[calendar.pk])
    response = client.post(url, {"post": "yes"}, follow=True)
    assert "used by the schedules j" in response.content.decode()
    assert Calendar.objects.filter(name="ops").exists()


def test_a_viewer_cannot_add_a_calendar(viewer: User, client_for: Any) -> None:
    assert client_for(viewer).post(ADD, calendar_form()).status_code == 403
    assert not Calendar.objects.exists()


def test_the_schedule_form_ticks_calendars_and_the_preview_marks_them(
    superuser: User, client_for: Any
) -> None:
    add_calendar("fridays", weekly=["fri 00:00-24:00"], timezone="Europe/Berlin")
    add_calendar("spare", dates=["2030-01-01"])
    client = client_for(superuser)
    page = client.get(SCHEDULE_ADD).content.decode()
    assert 'name="calendars" value="fridays"' in page and 'value="spare"' in page
    assert client.post(SCHEDULE_ADD, cron_form(calendars=["fridays"])).status_code == 302
    schedule = Schedule.objects.get(job_id="weekly-report")
    assert schedule.calendars == ["fridays"]
    # The live preview: Monday and Friday 09:30; the Fridays are marked.
    timing = {k: v for k, v in cron_form(calendars=["fridays"]).items() if k != "kwargs"}
    data = json.loads(client.post(PREVIEW, timing).content)
    marks = {f["schedule_zone"][:3]: f["excluded"] for f in data["fire_times"]}
    assert marks["Fri"] == "Not run: inside calendar 'fridays'"
    assert marks["Mon"] == ""
    # An unknown name in the form is refused under the field.
    response = client.post(SCHEDULE_ADD, cron_form(job_id="other", calendars=["nope"]))
    assert "nope" in str(response.context["adminform"].form.errors["calendars"])
    assert not Schedule.objects.filter(job_id="other").exists()


def test_a_declared_schedules_page_marks_its_excluded_fire_times(
    superuser: User, client_for: Any
) -> None:
    add_calendar("mondays", weekly=["mon 00:00-24:00"], timezone="UTC")
    schedule = api.add_job(
        jobs.noop, "cron", hour=9, timezone="UTC", id="declared", calendars=["mondays"]
    )
    page = client_for(superuser).get(
        reverse("admin:django_schedules_schedule_change", args=[schedule.pk])
    )
    html = page.content.decode()
    assert html.count("Not run: inside calendar &#x27;mondays&#x27;") == 1  # 5 days, 1 Monday
