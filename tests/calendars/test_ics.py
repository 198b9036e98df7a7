"""Holidays from an iCalendar file, read by the icalendar package (the ``calendars`` extra):
all-day events become days or ranges, timed events ranges, a yearly all-day event a yearly
day; other repeating events are refused naming the event; nothing is written on a refusal."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from django_schedules import calendars
from django_schedules.api_calendars import MISSING_EXTRA, add_calendar, import_calendar_ics
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import Calendar
from django_schedules.store.calendars import parsed

pytestmark = pytest.mark.django_db

HOLIDAYS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//tests//django-schedules//EN\r
BEGIN:VEVENT\r
UID:1@tests\r
SUMMARY:Boxing Day\r
DTSTART;VALUE=DATE:20261226\r
DTEND;VALUE=DATE:20261227\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2@tests\r
SUMMARY:Company retreat\r
DTSTART;VALUE=DATE:20260803\r
DTEND;VALUE=DATE:20260806\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:3@tests\r
SUMMARY:Christmas\r
DTSTART;VALUE=DATE:20201225\r
RRULE:FREQ=YEARLY\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:4@tests\r
SUMMARY:Database upgrade\r
DTSTART;TZID=Europe/Berlin:20260601T220000\r
DTEND;TZID=Europe/Berlin:20260602T020000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:5@tests\r
SUMMARY:Floating window\r
DTSTART:20260701T090000\r
DTEND:20260701T100000\r
END:VEVENT\r
END:VCALENDAR\r
"""

WEEKLY_MEETING = HOLIDAYS.replace(
    "END:VCALENDAR",
    "BEGIN:VEVENT\r\nUID:6@tests\r\nSUMMARY:Standup\r\nDTSTART:20260105T090000Z\r\n"
    "DTEND:20260105T091500Z\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\nEND:VEVENT\r\nEND:VCALENDAR",
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holidays.ics"
    path.write_text(text, newline="")
    return path


def test_a_real_ics_file_becomes_days_ranges_and_yearly_days(tmp_path: Path) -> None:
    calendar = import_calendar_ics("holidays", write(tmp_path, HOLIDAYS), "Europe/Berlin")
    assert calendar.dates == ["2026-12-26"]
    assert calendar.yearly == ["12-25"]
    assert calendar.ranges == [
        ["2026-06-01T22:00:00+02:00", "2026-06-02T02:00:00+02:00"],
        ["2026-07-01T09:00:00", "2026-07-01T10:00:00"],
        ["2026-08-03", "2026-08-05"],  # DTEND of an all-day event is exclusive
    ]
    cal = parsed(Calendar.objects.get(name="holidays"))
    berlin = calendars.ZoneInfo("Europe/Berlin")
    assert cal.covers(datetime(2026, 8, 5, 23, 0, tzinfo=berlin))
    assert not cal.covers(datetime(2026, 8, 6, 0, 0, tzinfo=berlin))
    assert cal.covers(datetime(2031, 12, 25, 12, 0, tzinfo=berlin))
    assert cal.covers(datetime(2026, 6, 1, 20, 30, tzinfo=UTC))  # 22:30 in Berlin
    assert cal.covers(datetime(2026, 7, 1, 9, 30, tzinfo=berlin))  # floating: wall clock


def test_an_open_file_and_entries_given_with_it_are_merged(tmp_path: Path) -> None:
    calendar = add_calendar(
        "merged", dates=["2026-01-01"], timezone="UTC", ics=io.BytesIO(HOLIDAYS.encode())
    )
    assert calendar.dates == ["2026-01-01", "2026-12-26"]


def test_another_repeating_event_is_refused_naming_it_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        import_calendar_ics("meetings", write(tmp_path, WEEKLY_MEETING))
    assert caught.value.field == "ics"
    assert "'Standup'" in str(caught.value) and "FREQ=WEEKLY" in str(caught.value)
    assert not Calendar.objects.exists()


def test_a_file_that_is_not_icalendar_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidSchedule, match="not an iCalendar file") as caught:
        import_calendar_ics("x", write(tmp_path, "hello, world"))
    assert caught.value.field == "ics"
    with pytest.raises(InvalidSchedule, match="cannot read"):
        import_calendar_ics("x", tmp_path / "missing.ics")
    assert not Calendar.objects.exists()


def test_without_the_extra_the_error_names_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "icalendar", None)  # what a missing package looks like
    with pytest.raises(InvalidSchedule) as caught:
        import_calendar_ics("x", write(tmp_path, HOLIDAYS))
    assert str(caught.value).startswith(MISSING_EXTRA)
    assert "django-schedules[calendars]" in str(caught.value)


def test_the_importcalendar_command(tmp_path: Path) -> None:
    path = write(tmp_path, HOLIDAYS)
    out = StringIO()
    call_command("importcalendar", "--file", str(path), "--timezone", "Europe/Berlin", stdout=out)
    assert "calendar 'holidays' imported" in out.getvalue()
    assert Calendar.objects.get(name="holidays").timezone == "Europe/Berlin"
    call_command("importcalendar", f"--file={path}", "--name=Public holidays", stdout=out)
    assert Calendar.objects.filter(name="Public holidays").exists()
    bad = write(tmp_path, WEEKLY_MEETING)
    with pytest.raises(CommandError, match="Standup"):
        call_command("importcalendar", "--file", str(bad), "--name", "other", stdout=out)
    assert not Calendar.objects.filter(name="other").exists()
