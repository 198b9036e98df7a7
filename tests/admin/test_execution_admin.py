from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_schedules import api
from django_schedules.models import Execution, ExecutionStatus, Schedule
from tests.admin.conftest import REPORT

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:django_schedules_execution_changelist")
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def make_schedule(job_id: str = "report") -> Schedule:
    return api.add_job(REPORT, "interval", id=job_id, minutes=5, kwargs={"recipient": "a"})


def make_execution(schedule: Schedule | None, minute: int = 0, **fields: object) -> Execution:
    defaults: dict[str, object] = {
        "job_id": schedule.job_id if schedule else "gone",
        "name": schedule.name if schedule else "Gone",
        "status": ExecutionStatus.SUCCEEDED,
        "started_at": datetime(2026, 1, 1, 0, minute, 1, tzinfo=UTC),
        "duration": timedelta(milliseconds=250),
        "worker": "host:123",
    }
    defaults.update(fields)
    return Execution.objects.create(
        schedule=schedule, fire_time=datetime(2026, 1, 1, 0, minute, tzinfo=UTC), **defaults
    )


def test_executions_are_read_only_even_for_a_superuser(superuser: User, client_for) -> None:
    execution = make_execution(make_schedule())
    client = client_for(superuser)
    assert client.get(reverse("admin:django_schedules_execution_add")).status_code == 403
    url = reverse("admin:django_schedules_execution_change", args=[execution.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    delete = reverse("admin:django_schedules_execution_delete", args=[execution.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Execution.objects.filter(pk=execution.pk).exists()


def test_a_traceback_and_result_are_shown_as_text(viewer: User, client_for) -> None:
    execution = make_execution(
        make_schedule(),
        status=ExecutionStatus.FAILED,
        result=HOSTILE,
        traceback=f"Traceback (most recent call last):\nValueError: {HOSTILE}",
    )
    url = reverse("admin:django_schedules_execution_change", args=[execution.pk])
    html = client_for(viewer).get(url).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert '<pre class="schedules-pre">Traceback (most recent call last):' in html


def test_a_job_name_with_html_is_escaped_in_the_list(superuser: User, client_for) -> None:
    make_execution(None, name=HOSTILE, job_id="gone")
    html = client_for(superuser).get(LIST_URL).content.decode()
    assert "<script>alert" not in html


def test_the_list_filters_by_schedule_through_a_link(superuser: User, client_for) -> None:
    first, second = make_schedule("first"), make_schedule("second")
    make_execution(first, 1)
    make_execution(second, 2)
    response = client_for(superuser).get(LIST_URL, {"schedule": first.pk})
    assert [e.job_id for e in response.context["cl"].result_list] == ["first"]


def test_the_list_filters_by_status(superuser: User, client_for) -> None:
    schedule = make_schedule()
    make_execution(schedule, 1, status=ExecutionStatus.FAILED)
    make_execution(schedule, 2)
    response = client_for(superuser).get(LIST_URL, {"status__exact": "failed"})
    assert [e.status for e in response.context["cl"].result_list] == ["failed"]


def test_the_list_costs_the_same_queries_at_any_size(superuser: User, client_for) -> None:
    schedule, client = make_schedule(), client_for(superuser)
    make_execution(schedule, 0)
    client.get(LIST_URL)
    with CaptureQueriesContext(connection) as small:
        client.get(LIST_URL)
    for minute in range(1, 45):
        make_execution(schedule, minute)
    with CaptureQueriesContext(connection) as large:
        client.get(LIST_URL)
    assert len(large) == len(small)


def test_the_schedule_page_shows_its_last_ten_executions(superuser: User, client_for) -> None:
    schedule = make_schedule()
    for minute in range(12):
        make_execution(schedule, minute)
    url = reverse("admin:django_schedules_schedule_change", args=[schedule.pk])
    html = client_for(superuser).get(url).content.decode()
    assert html.count("execution/") >= 10
    assert "2026-01-01 00:11:00" in html and "2026-01-01 00:01:00" not in html
    assert f"?schedule={schedule.pk}" in html


def test_an_executions_title_is_in_the_viewers_zone(superuser: User, client_for) -> None:
    from django.test import override_settings

    schedule = make_schedule()
    execution = make_execution(schedule)
    url = reverse("admin:django_schedules_execution_change", args=[execution.pk])
    with override_settings(TIME_ZONE="Asia/Tokyo"):
        html = client_for(superuser).get(url).content.decode()
    title = re.search(r"<h2>(.*?)</h2>", html)
    assert title is not None and title.group(1).endswith("JST"), title
