"""Opening a schedule in the admin and saving it changes nothing staff did not touch.

Schedules of every kind are made the ways code makes them (``add_job`` with keyword fields,
ranges, steps, names, crontab lines, fractional intervals, phases pinned to the microsecond)
and the way the admin makes them; the change page is fetched through the real admin view, the
form is read back from its HTML as a browser would submit it, and posted: the trigger, every
option, ``next_run_at`` and ``version`` stay as they were. Then only the name is changed: only
the name changes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from django_schedules import api
from django_schedules.exceptions import SchedulesError
from django_schedules.forms import TriggerForm, build_trigger
from django_schedules.models import Schedule
from django_schedules.options import DEFINITION_FIELDS
from django_schedules.triggers import trigger_from_dict
from tests.admin.conftest import REPORT

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(600)]

ROUND_TRIP = settings(
    max_examples=int(os.environ.get("SCHEDULES_ROUND_TRIP_EXAMPLES", "40")),
    deadline=timedelta(seconds=30),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# What a row holds that a save could change.
COLUMNS = (*DEFINITION_FIELDS, "enabled", "next_run_at", "version", "last_error", "source")


class FormReader(HTMLParser):
    """The data a browser submits for the change form, untouched: checked boxes and radios,
    selected options, inputs' and text areas' values. Disabled fields send nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._select_first: str | None = None
        self._selected = False
        self._textarea: str | None = None
        self._in_form = False

    def add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form" and a.get("id") == "schedule_form":
            self._in_form = True
        if not self._in_form or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.add(name, a.get("value", "on"))
            elif kind not in ("submit", "button", "file"):
                self.add(name, a.get("value", ""))
        elif tag == "select" and name:
            self._select, self._select_first, self._selected = name, None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self.add(self._select, value)
                self._selected = True
        elif tag == "textarea" and name:
            self._textarea = name
            self.add(name, "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        if tag == "select" and self._select is not None:
            if not self._selected and self._select_first is not None:
                self.add(self._select, self._select_first)
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            # A textarea's content starts after one newline, which the browser drops.
            text = self.data[self._textarea][-1] + data
            self.data[self._textarea][-1] = text.removeprefix("\n")


def submitted(client: Client, url: str) -> dict[str, list[str]]:
    page = client.get(url)
    assert page.status_code == 200
    reader = FormReader()
    reader.feed(page.content.decode())
    assert "name" in reader.data, "the change form was not found in the page"
    return reader.data


def row(schedule: Schedule) -> dict[str, Any]:
    fresh = Schedule.objects.get(pk=schedule.pk)
    return {column: getattr(fresh, column) for column in COLUMNS}


# -- schedules as code and the admin make them ---------------------------------------------------

ZONES = st.sampled_from(["Europe/Berlin", "UTC", "America/New_York", "Australia/Lord_Howe"])
FUTURE = st.datetimes(datetime(2027, 1, 1), datetime(2040, 1, 1))
JITTER = st.one_of(st.none(), st.integers(1, 30))

cron_keywords = st.fixed_dictionaries(
    {},
    optional={
        "year": st.sampled_from(["2027-2040", "*/2", 2031]),
        "month": st.sampled_from(["1-6", "jan,jul", "*/3", 5, "mar-nov"]),
        "day": st.sampled_from(["1", "last", "1st mon", "15-20", "*/10", "last fri", 13]),
        "week": st.sampled_from(["1-10", "*/2", 20]),
        "day_of_week": st.sampled_from(
            ["mon-fri", "0-4", "sat,sun", "mon", "tue-thu", "fri-sun", 2, "mon,wed-fri", "*"]
        ),
        "hour": st.sampled_from([9, "9", "*/2", "8-17", "8,12", "*", "0-23/6"]),
        "minute": st.sampled_from([30, "0", "*/15", "0-59/20", "5,35"]),
        "second": st.sampled_from([0, "30", "*/20"]),
    },
)
crontab_lines = st.sampled_from(
    ["30 9 * * 1-5", "0 */2 * * *", "15 6 1 * 0", "@daily", "0 9 * * mon-fri", "*/5 * * * *"]
)
amounts = st.one_of(st.integers(0, 3), st.sampled_from([0.5, 1.5, 90.25]))


@st.composite
def schedules(draw: st.DrawFn) -> dict[str, Any]:
    """add_job keywords for one schedule: the trigger's name and its arguments."""
    kind = draw(st.sampled_from(["cron", "crontab", "interval", "calendarinterval", "date"]))
    zone = draw(ZONES)
    window: dict[str, Any] = {}
    if draw(st.booleans()):
        start = draw(FUTURE).replace(microsecond=draw(st.sampled_from([0, 123456])))
        window["start_date"] = start
        if draw(st.booleans()):
            window["end_date"] = start + timedelta(days=draw(st.integers(30, 4000)))
    if kind == "cron":
        return {"trigger": "cron", **draw(cron_keywords), **window, "timezone": zone,
                "jitter": draw(JITTER)}  # fmt: skip
    if kind == "crontab":
        from django_schedules.triggers import CronTrigger

        return {"trigger": CronTrigger.from_crontab(draw(crontab_lines), timezone=zone, **window)}
    if kind == "interval":
        units = {unit: draw(amounts) for unit in ("weeks", "days", "hours", "minutes", "seconds")}
        assume(any(units.values()))
        return {"trigger": "interval", **units, **window, "timezone": zone,
                "jitter": draw(JITTER)}  # fmt: skip
    if kind == "calendarinterval":
        steps = {unit: draw(st.integers(0, 3)) for unit in ("years", "months", "weeks", "days")}
        assume(any(steps.values()))
        return {"trigger": "calendarinterval", **steps, "hour": draw(st.integers(0, 23)),
                "minute": draw(st.integers(0, 59)), "second": draw(st.integers(0, 59)),
                **window, "timezone": zone}  # fmt: skip
    moment = draw(FUTURE).replace(microsecond=draw(st.sampled_from([0, 250000])))
    return {"trigger": "date", "run_date": moment, "timezone": zone}


options = st.fixed_dictionaries(
    {},
    optional={
        "misfire_grace_time": st.sampled_from([None, 1, 3600]),
        "max_instances": st.integers(1, 5),
        "timeout": st.sampled_from([None, 0.5, 30.0, 3600]),
        "max_retries": st.integers(0, 3),
        "retry_delay": st.sampled_from([0, 1.5, 60]),
        "rerun_lost": st.booleans(),
        "misfire_policy": st.sampled_from(["run_once", "skip", "run_all"]),
        "name": st.sampled_from(["", "Weekly report", "<b>ünïcode</b>"]),
        "enabled": st.booleans(),
    },
)


@ROUND_TRIP
@given(
    timing=schedules(),
    settings_=options,
    source=st.sampled_from(["admin", "code", "settings"]),
)
def test_saving_an_untouched_form_changes_nothing_and_a_new_name_only_the_name(
    superuser: User, timing: dict[str, Any], settings_: dict[str, Any], source: str
) -> None:
    Schedule.objects.all().delete()
    try:
        schedule = api.add_job(
            REPORT,
            id="round-trip",
            kwargs={"recipient": "a@example.com"},
            source=source,
            **timing,
            **settings_,
        )
    except SchedulesError:
        assume(False)  # a combination that never fires: add_job refuses it, as it should
        raise
    client = Client()
    client.force_login(superuser)
    url = reverse("admin:django_schedules_schedule_change", args=[schedule.pk])
    before = row(schedule)

    data = submitted(client, url)
    if source == "admin":
        assert_the_fields_show_the_same_schedule(data, schedule)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert row(schedule) == before

    data = submitted(client, url)
    data["name"] = ["Renamed by staff"]
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    after = row(schedule)
    assert after.pop("name") == "Renamed by staff"
    assert after.pop("version") == before.pop("version") + 1
    before.pop("name")
    assert after == before


def assert_the_fields_show_the_same_schedule(
    data: dict[str, list[str]], schedule: Schedule
) -> None:
    """The timing fields as shown, built into a trigger (as a save that touched one of them
    does, the untouched window kept exact), fire as the stored trigger does."""
    query = QueryDict(mutable=True)
    for name, values in data.items():
        query.setlist(name, values)
    form = TriggerForm(query)
    assert form.is_valid(), form.errors
    stored = trigger_from_dict(schedule.trigger)
    kept = {name: getattr(stored, name) for name in ("start_date", "end_date")}
    errors: list[Any] = []
    built = build_trigger(
        form.cleaned_data, lambda field, message: errors.append((field, message)),
        reject_past_date=False, kept=kept,
    )  # fmt: skip
    assert built is not None, errors
    assert built.same_schedule(stored), (built.to_dict(), stored.to_dict())


def test_the_form_reader_sends_what_the_page_shows(superuser: User) -> None:
    # The reader itself: a weekday box ticked, a radio chosen, a textarea's JSON, no submit.
    schedule = api.add_job(
        REPORT, "cron", id="r", kwargs={"recipient": "x"}, day_of_week="mon-fri", hour=9,
        source="admin", timezone="UTC",
    )  # fmt: skip
    client = Client()
    client.force_login(superuser)
    data = submitted(client, reverse("admin:django_schedules_schedule_change", args=[schedule.pk]))
    assert data["cron_day_of_week"] == ["mon", "tue", "wed", "thu", "fri"]
    assert data["cron_mode"] == ["fields"]
    assert data["kwargs"] == ['{"recipient": "x"}']
    assert data["cron_hour"] == ["9"] and data["cron_minute"] == ["0"]
    assert "_save" not in data and "job_id" not in data  # disabled on a change page
    assert Schedule.objects.get().next_run_at > datetime.now(UTC)


def test_a_schedule_from_schedules_jobs_saved_untouched_stays_in_sync(superuser: User) -> None:
    # The weekday case declared in settings: renamed in the admin, and the next sync
    # finds its definition unchanged but for the name it sets back.
    from django.core.management import call_command
    from django.test import override_settings

    jobs = {
        "weekday-digest": {
            "func": REPORT, "trigger": "cron", "hour": 9, "minute": 30,
            "day_of_week": "mon-fri", "timezone": "Europe/Berlin",
            "kwargs": {"recipient": "a@example.com"},
        },
        "hourly": {"func": REPORT, "trigger": "interval", "hours": 1,
                   "kwargs": {"recipient": "b@example.com"}},
    }  # fmt: skip
    with override_settings(SCHEDULES_JOBS=jobs):
        call_command("syncschedules", verbosity=0)
        client = Client()
        client.force_login(superuser)
        for schedule in Schedule.objects.all():
            assert schedule.source == "settings"
            before = row(schedule)
            url = reverse("admin:django_schedules_schedule_change", args=[schedule.pk])
            data = submitted(client, url)
            response = client.post(url, data)
            assert response.status_code == 302, response.context["adminform"].form.errors
            assert row(schedule) == before
            call_command("syncschedules", verbosity=0)
            assert row(schedule) == before  # the sync sees nothing to change
