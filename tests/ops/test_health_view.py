"""``health/``: the verdict of ``schedulerstatus`` for load balancers and probes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from django_schedules import api, store
from django_schedules.models import Schedule
from tests.ops.test_status import hold_lease, report, status

pytestmark = pytest.mark.django_db

URL = "/schedules/health/"


def get(client: Client, **query: str) -> tuple[int, dict[str, object]]:
    response = client.get(URL, query)
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


def test_the_url_is_the_apps_own() -> None:
    assert reverse("django_schedules:health") == URL


def test_with_no_scheduler_it_answers_503_and_says_why(client: Client) -> None:
    code, body = get(client)
    assert code == 503
    assert body["ok"] is False and body["leader_alive"] is False
    assert body["problems"] == ["no scheduler process of group 'default' has reported"]


def test_with_a_live_leader_it_answers_200_like_schedulerstatus(client: Client) -> None:
    report("web-1:101:a")
    hold_lease("web-1:101:a")
    code, body = get(client)
    assert code == 200
    assert body == {
        "ok": True,
        "group": "default",
        "leader_alive": True,
        "lag": body["lag"],
        "problems": [],
    }
    assert status("--max-lag", "60")[0] == 0  # the command's verdict agrees


@override_settings(SCHEDULES_HEALTH_MAX_LAG=60)
def test_a_lag_past_the_setting_answers_503_naming_the_setting_not_the_schedule(
    client: Client,
) -> None:
    report("web-1:101:a")
    hold_lease("web-1:101:a")
    api.add_job("tests.testapp.jobs.noop", "interval", hours=1, id="secret-report-name")
    Schedule.objects.update(next_run_at=store.database_now() - timedelta(minutes=5))
    code, body = get(client)
    assert code == 503
    assert body["leader_alive"] is True and float(str(body["lag"])) >= 300
    [problem] = body["problems"]  # type: ignore[misc]
    assert "more than SCHEDULES_HEALTH_MAX_LAG 60" in problem
    assert "secret-report-name" not in str(body) and "web-1" not in str(body)


def test_another_group_is_asked_by_name(client: Client) -> None:
    report("web-1:101:a")
    hold_lease("web-1:101:a")
    code, body = get(client, group="reports")
    assert (code, body["group"]) == (503, "reports")
    assert body["problems"] == ["no scheduler process of group 'reports' has reported"]


@pytest.mark.parametrize("group", ["", "x" * 101])
def test_a_bad_group_is_refused_with_400_naming_it(client: Client, group: str) -> None:
    code, body = get(client, group=group)
    assert code == 400
    assert body["problems"] == ["group must be 1 to 100 characters"]


def test_only_reads_are_allowed(client: Client) -> None:
    assert client.post(URL).status_code == 405
    assert client.head(URL).status_code == 503  # no scheduler: the verdict, bodiless
