"""The admin's queue and priority fields (issue 17): saved through the API, a refusal of the
backend shown under the field, nothing written."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.test import override_settings
from django.urls import reverse

from django_schedules.models import Schedule
from tests.admin.conftest import cron_form
from tests.api.test_routing import ROUTED


@override_settings(**ROUTED)
def test_the_admin_saves_queue_and_priority_and_puts_a_refusal_under_the_field(
    superuser: User, client_for: Any
) -> None:
    client = client_for(superuser)
    add_url = reverse("admin:django_schedules_schedule_add")
    page = client.get(add_url).content.decode()
    assert 'name="queue"' in page and 'name="priority"' in page
    response = client.post(add_url, cron_form(executor="q", queue="nowhere", priority="3"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "queue" in errors and "'nowhere' is refused" in errors["queue"][0], errors
    assert not Schedule.objects.exists()
    response = client.post(add_url, cron_form(executor="q", queue="reports", priority="3"))
    assert response.status_code == 302
    stored = Schedule.objects.get(job_id="weekly-report")
    assert (stored.queue, stored.priority) == ("reports", 3)
