"""The admin edits a schedule's overlap policy through the API (a bad one is an error under
the field, nothing written), shows its counts, and shows buffered runs in the execution
list."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse

from django_schedules.models import Execution, Schedule
from tests.admin.conftest import cron_form

ADD_URL = reverse("admin:django_schedules_schedule_add")
EXECUTIONS_URL = reverse("admin:django_schedules_execution_changelist")


def test_the_form_sets_the_policy_and_the_page_shows_the_counts(
    superuser: User, client_for: Any
) -> None:
    client = client_for(superuser)
    assert client.post(ADD_URL, cron_form(overlap="buffer_one")).status_code == 302
    schedule = Schedule.objects.get(job_id="weekly-report")
    assert schedule.overlap == "buffer_one"
    Schedule.objects.filter(pk=schedule.pk).update(overlaps_skipped=4, overlaps_buffered=7)
    page = client.get(reverse("admin:django_schedules_schedule_change", args=[schedule.pk]))
    html = page.content.decode()
    assert 'name="overlap"' in html and 'value="buffer_one" selected' in html
    assert "Overlaps skipped" in html and ">4<" in html and ">7<" in html


def test_a_policy_the_executor_cannot_honour_is_an_error_under_the_field(
    superuser: User, client_for: Any
) -> None:
    client = client_for(superuser)
    response = client.post(ADD_URL, cron_form(overlap="cancel_running"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "needs an executor that can stop a run" in str(errors["overlap"])
    assert not Schedule.objects.exists()


def test_the_execution_list_shows_buffered_runs(superuser: User, client_for: Any) -> None:
    client = client_for(superuser)
    assert client.post(ADD_URL, cron_form(overlap="buffer_all")).status_code == 302
    schedule = Schedule.objects.get(job_id="weekly-report")
    Execution.objects.create(
        schedule=schedule,
        job_id=schedule.job_id,
        func=schedule.func,
        fire_time=schedule.next_run_at,
        status="buffered",
        reason="overlap=buffer_all: buffered until the running run ends",
    )
    html = client.get(EXECUTIONS_URL, {"status__exact": "buffered"}).content.decode()
    assert "schedules-status-busy" in html and "Buffered" in html
