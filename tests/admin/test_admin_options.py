"""The admin saves a schedule in one API call, and reads the schedules' database."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import User
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils.connection import ConnectionDoesNotExist

from django_schedules import api
from django_schedules.models import Execution, Schedule
from tests.admin.conftest import cron_form

ADD_URL = reverse("admin:django_schedules_schedule_add")


def test_unticking_enabled_saves_in_one_change(
    superuser: User, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(superuser)
    assert client.post(ADD_URL, cron_form()).status_code == 302
    schedule = Schedule.objects.get(job_id="weekly-report")
    calls: list[str] = []
    write_change = api._write_change

    def counted(job_id: str, change: Any) -> Any:
        calls.append(job_id)
        return write_change(job_id, change)

    monkeypatch.setattr(api, "_write_change", counted)
    for pause, pause_or_resume in (
        ((None, "Paused"), api.pause_job),
        (("on", "Again"), api.resume_job),
    ):
        monkeypatch.setattr(api, pause_or_resume.__name__, _refused)
        enabled, name = pause
        url = reverse("admin:django_schedules_schedule_change", args=[schedule.pk])
        response = client.post(url, cron_form(enabled=enabled, name=name))
        assert response.status_code == 302
        saved = Schedule.objects.get(pk=schedule.pk)
        assert (saved.enabled, saved.name) == (enabled == "on", name)
    assert calls == ["weekly-report", "weekly-report"]


def _refused(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the admin pauses and resumes through modify_job(enabled=...)")


@pytest.mark.django_db
def test_the_admin_reads_the_schedules_database() -> None:
    request = RequestFactory().get("/")
    with override_settings(SCHEDULES_DATABASE="elsewhere"):
        for model in (Schedule, Execution):
            assert site._registry[model].get_queryset(request).db == "elsewhere"
        schedule_admin = site._registry[Schedule]
        with pytest.raises(ConnectionDoesNotExist, match="elsewhere"):
            schedule_admin.recent_executions(Schedule(pk=1, job_id="x"))
