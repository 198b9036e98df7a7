"""The schedule list's "Pause selected schedules with a reason…" action: a page asks why and
until when, then pauses the selected running schedules with that reason, or pauses none."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from django_schedules import api
from django_schedules.models import Schedule
from tests.admin.conftest import REPORT

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:django_schedules_schedule_changelist")
ACTION = "pause_schedules_with_reason"


def add(job_id: str, **options: object) -> Schedule:
    return api.add_job(
        REPORT, "interval", id=job_id, minutes=5, kwargs={"recipient": "a"}, **options
    )


def act(client: Client, schedules: list[Schedule], **fields: str):
    data = {"action": ACTION, "_selected_action": [s.pk for s in schedules], "index": 0, **fields}
    return client.post(LIST_URL, data, follow=True)


def test_the_page_asks_why_and_pauses_the_running_ones_with_the_reason(
    editor: User, client_for
) -> None:
    client = client_for(editor)
    first, second, already = add("nightly"), add("hourly"), add("paused")
    api.pause_job("paused", reason="earlier")
    page = act(client, [first, second, already])
    html = page.content.decode()
    assert page.status_code == 200 and 'id="schedules-pause-form"' in html
    assert "These 2 schedules will stop firing" in html  # the paused one is not listed
    # The action pages' frame (action_page.html): the body's class and the way back.
    assert "pause-selected-confirmation" in html
    assert '/admin/django_schedules/schedule/">Schedules</a>\n&rsaquo; Pause schedules' in html
    assert Schedule.objects.filter(enabled=True).count() == 2  # nothing paused yet
    until = datetime.now(UTC) + timedelta(days=2)
    local = until.astimezone(editor_zone())
    page = act(
        client,
        [first, second],
        post="yes",
        reason="database migration",
        until_0=local.strftime("%Y-%m-%d"),
        until_1=local.strftime("%H:%M:%S"),
    )
    assert "Paused 2 schedule(s)." in page.content.decode()
    rows = Schedule.objects.order_by("job_id")
    assert [(s.job_id, s.enabled, s.pause_reason) for s in rows] == [
        ("hourly", False, "database migration"),
        ("nightly", False, "database migration"),
        ("paused", False, "earlier"),
    ]
    ends = {s.paused_until for s in rows if s.job_id != "paused"}
    assert ends == {until.replace(microsecond=0)}


def test_an_end_in_the_past_is_refused_under_its_field_and_pauses_nothing(
    editor: User, client_for
) -> None:
    client = client_for(editor)
    schedule = add("nightly")
    past = (datetime.now(UTC) - timedelta(hours=1)).astimezone(editor_zone())
    page = act(
        client,
        [schedule],
        post="yes",
        reason="x",
        until_0=past.strftime("%Y-%m-%d"),
        until_1=past.strftime("%H:%M:%S"),
    )
    html = page.content.decode()
    assert 'id="schedules-pause-form"' in html
    errors = re.search(r'field-until">\s*<ul class="errorlist"[^>]*>(.*?)</ul>', html, re.S)
    assert errors is not None and "Give an end later than now" in errors.group(1), html
    schedule.refresh_from_db()
    assert (schedule.enabled, schedule.pause_reason) == (True, "")


def test_nothing_running_among_the_selected_says_so(editor: User, client_for) -> None:
    schedule = add("nightly", enabled=False)
    page = act(client_for(editor), [schedule])
    assert "None of the selected schedules is running." in page.content.decode()


def test_a_viewer_cannot_pause_with_a_reason(viewer: User, client_for) -> None:
    schedule = add("nightly")
    act(client_for(viewer), [schedule], post="yes", reason="no")
    schedule.refresh_from_db()
    assert (schedule.enabled, schedule.pause_reason) == (True, "")


def editor_zone():
    from django.utils import timezone

    return timezone.get_current_timezone()
