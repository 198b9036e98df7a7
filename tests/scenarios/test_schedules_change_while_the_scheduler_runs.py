from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client, override_settings

from django_schedules.models import Execution, Schedule

from .helpers import (
    POLL,
    admin_client,
    admin_url,
    clean,
    fires,
    schedule_form,
    scheduler_process,
    utcnow,
    wait_for,
    wait_until_leading,
)

# Both flows allow 3 overlapping runs: a run slowed by a loaded machine must not turn a beat
# into a skip, which would break the spacing checked below (overlap is scenario 12's subject).
OVERLAP = 3


class AdminEdits:
    """Create, change and remove a schedule the way staff do: the admin's forms."""

    def __init__(self) -> None:
        self.client = admin_client()
        self.form: dict[str, Any] = {}

    def create(self, word: str, seconds: int, start: datetime) -> None:
        self.form = schedule_form(
            "greet",
            "scenarios.echo",
            {"word": word},
            trigger_kind="interval",
            interval_seconds=str(seconds),
            start_date=start,
        )
        self.form["max_instances"] = str(OVERLAP)
        self._expect_redirect(self.client.post(admin_url("schedule_add"), self.form))

    def change(self, word: str, seconds: int) -> None:
        pk = Schedule.objects.get(job_id="greet").pk
        self.form.update(kwargs=json.dumps({"word": word}), interval_seconds=str(seconds))
        self._expect_redirect(self.client.post(admin_url("schedule_change", pk), self.form))

    def remove(self) -> None:
        pk = Schedule.objects.get(job_id="greet").pk
        response = self.client.post(admin_url("schedule_delete", pk), {"post": "yes"})
        self._expect_redirect(response)

    def _expect_redirect(self, response: Any) -> None:
        assert response.status_code == 302, response.content.decode()[:3000]


class ViewEdits:
    """The same through a project's own view calling the Python API (tests/scenarios/views.py)."""

    def __init__(self) -> None:
        self.client = Client()
        self.url = "/schedules/greet/"

    def create(self, word: str, seconds: int, start: datetime) -> None:
        body = {
            "func": "scenarios.echo",
            "trigger": "interval",
            "kwargs": {"word": word},
            "timing": {"seconds": seconds, "start_date": start.isoformat()},
            "max_instances": OVERLAP,
        }
        self._send("put", body)
        self.start = start

    def change(self, word: str, seconds: int) -> None:
        timing = {"seconds": seconds, "start_date": self.start.isoformat()}
        self._send("patch", {"trigger": "interval", "kwargs": {"word": word}, "timing": timing})

    def remove(self) -> None:
        assert self.client.delete(self.url).status_code == 204

    def _send(self, method: str, body: dict[str, Any]) -> None:
        response = getattr(self.client, method)(
            self.url, json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 200, response.content


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("edits", [AdminEdits, ViewEdits], ids=["admin", "view"])
@override_settings(ROOT_URLCONF="tests.scenarios.urls")
def test_a_schedule_is_created_changed_and_removed_while_the_scheduler_runs(
    edits: type[AdminEdits] | type[ViewEdits],
) -> None:
    """Schedules come and go at run time, from the admin or a view, with no restart.

    jcass77/django-apscheduler#149 and #155: jobs can only be added in code at start-up, and
    editing them needs a restart. Here, with one scheduler running throughout, a schedule is
    created (function, arguments, a 1-second interval), changed (new arguments, 2 seconds)
    and removed, through the admin's forms or through a project's view; each change shows in
    the next runs, and nothing runs after the removal.
    """
    driver = edits()
    with scheduler_process() as proc:
        wait_until_leading(proc)
        start = utcnow().replace(microsecond=0) + timedelta(seconds=1)
        driver.create("one", 1, start)
        wait_for(lambda: len(fires("greet", result="'one'")) >= 2, 60, "two runs of 'one'")
        driver.change("two", 2)
        wait_for(lambda: len(fires("greet", result="'two'")) >= 2, 60, "two runs of 'two'")
        driver.remove()
        removed = utcnow()
        later = removed + timedelta(seconds=2.5)
        wait_for(lambda: utcnow() > later, 10, "the beats after the removal")
        output = proc.output()
    ones = [e.fire_time for e in fires("greet", result="'one'")]
    twos = [e.fire_time for e in fires("greet", result="'two'")]
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(ones))
    assert all(b - a == timedelta(seconds=2) for a, b in itertools.pairwise(twos))
    assert max(ones) < min(twos)
    # Nothing after the removal (a run claimed a poll ahead may still start), history kept.
    assert not Execution.objects.filter(fire_time__gt=removed + timedelta(seconds=POLL))
    assert not Schedule.objects.filter(job_id="greet").exists()
    history = fires("greet")
    assert history and all(e.schedule_id is None for e in history)
    assert {e.status for e in history} == {"succeeded"}
    assert clean(output) == []
