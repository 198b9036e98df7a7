"""The admin shows why a schedule is paused and until when, in the list and the form, and
edits both in the form: unticking "enabled" with a reason pauses with it, ticking it clears
them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse

from django_schedules import api
from django_schedules.models import Schedule
from tests.admin.conftest import cron_form

ADD_URL = reverse("admin:django_schedules_schedule_add")
LIST_URL = reverse("admin:django_schedules_schedule_changelist")


def added(client: Any) -> Schedule:
    assert client.post(ADD_URL, cron_form()).status_code == 302
    return Schedule.objects.get(job_id="weekly-report")


def change_url(schedule: Schedule) -> str:
    return reverse("admin:django_schedules_schedule_change", args=[schedule.pk])


def test_the_list_and_the_form_show_the_reason_and_the_end(
    superuser: User, client_for: Any
) -> None:
    client = client_for(superuser)
    schedule = added(client)
    until = datetime.now(UTC) + timedelta(days=3)
    api.pause_job(schedule.job_id, reason="Waiting for the <new> feed", until=until)
    page = client.get(LIST_URL).content.decode()
    assert "paused: Waiting for the &lt;new&gt; feed (until " in page  # escaped
    form = client.get(change_url(schedule)).content.decode()
    assert 'name="pause_reason"' in form and "Waiting for the &lt;new&gt; feed" in form
    assert 'name="paused_until_0"' in form


def test_unticking_enabled_with_a_reason_pauses_with_it(superuser: User, client_for: Any) -> None:
    client = client_for(superuser)
    schedule = added(client)
    until = datetime.now(UTC) + timedelta(days=2)
    response = client.post(
        change_url(schedule),
        cron_form(
            enabled=None,
            pause_reason="Quarter-end freeze",
            paused_until_0=f"{until:%Y-%m-%d}",
            paused_until_1="08:00:00",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Schedule.objects.get(pk=schedule.pk)
    assert not saved.enabled and saved.pause_reason == "Quarter-end freeze"
    assert saved.paused_until is not None and saved.paused_until > datetime.now(UTC)

    # Ticking it again resumes: the reason and the end go, whatever the fields still hold.
    response = client.post(
        change_url(schedule),
        cron_form(
            pause_reason="Quarter-end freeze",
            paused_until_0=f"{until:%Y-%m-%d}",
            paused_until_1="08:00:00",
        ),
    )
    assert response.status_code == 302
    saved = Schedule.objects.get(pk=schedule.pk)
    assert (saved.enabled, saved.pause_reason, saved.paused_until) == (True, "", None)


def test_an_end_in_the_past_is_an_error_on_its_field(superuser: User, client_for: Any) -> None:
    client = client_for(superuser)
    schedule = added(client)
    response = client.post(
        change_url(schedule),
        cron_form(enabled=None, paused_until_0="2001-01-01", paused_until_1="00:00:00"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "paused_until" in errors and "2001-01-01" in str(errors["paused_until"])
    assert Schedule.objects.get(pk=schedule.pk).enabled  # nothing written


def test_a_viewer_sees_the_reason_of_a_paused_schedule(
    superuser: User, viewer: User, client_for: Any
) -> None:
    schedule = added(client_for(superuser))
    client = client_for(viewer)
    assert "Pause reason" not in client.get(change_url(schedule)).content.decode()
    api.pause_job(schedule.job_id, reason="Vendor outage")
    page = client.get(change_url(schedule)).content.decode()
    assert "Pause reason" in page and "Vendor outage" in page
    assert 'name="pause_reason"' not in page  # shown, not editable


def test_the_form_edits_the_run_limit_and_refuses_to_resume_at_it(
    superuser: User, client_for: Any
) -> None:
    client = client_for(superuser)
    schedule = added(client)
    response = client.post(change_url(schedule), cron_form(max_runs="2"))
    assert response.status_code == 302
    reason = "run limit reached: max_runs=2 runs started"
    Schedule.objects.filter(pk=schedule.pk).update(
        runs_started=2, enabled=False, pause_reason=reason
    )
    assert f"paused: {reason}" in client.get(LIST_URL).content.decode()
    response = client.post(change_url(schedule), cron_form(max_runs="2"))  # ticks "enabled"
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "run limit is reached: max_runs=2, and 2 runs started" in str(errors["max_runs"])
    assert not Schedule.objects.get(pk=schedule.pk).enabled
    response = client.post(change_url(schedule), cron_form(max_runs="3"))
    assert response.status_code == 302
    saved = Schedule.objects.get(pk=schedule.pk)
    assert (saved.enabled, saved.max_runs, saved.pause_reason) == (True, 3, "")


def test_the_status_panel_names_the_schedules_paused_after_failing(
    superuser: User, client_for: Any
) -> None:
    client = client_for(superuser)
    schedule = added(client)
    assert "paused after failing" not in client.get(LIST_URL).content.decode()
    reason = "paused after 3 failed runs in a row (pause_after_failures=3)"
    Schedule.objects.filter(pk=schedule.pk).update(
        enabled=False, pause_after_failures=3, failures_in_a_row=3, pause_reason=reason
    )
    page = client.get(LIST_URL).content.decode()
    assert "1 schedule paused after failing" in page
    assert f'<a href="{change_url(schedule)}">weekly-report</a>' in page
    assert f"paused: {reason}" in page
