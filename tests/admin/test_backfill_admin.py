"""The schedule list's "Backfill the selected schedule…" action (issue 18): a page asks for a
range, previews each occurrence and what the backfill does with it, and backfills only on
Confirm of the range previewed; only staff who may run schedules see it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_schedules import api
from django_schedules.models import Execution, ExecutionKind, ExecutionStatus, Schedule
from tests.admin.conftest import REPORT
from tests.databases import snapshot

pytestmark = pytest.mark.django_db

LIST_URL = reverse("admin:django_schedules_schedule_changelist")
ACTION = "backfill_schedule"
DAY = datetime(2026, 1, 1, tzinfo=UTC)


def add(job_id: str) -> Schedule:
    return api.add_job(
        REPORT, "interval", id=job_id, hours=1, start_date=DAY, kwargs={"recipient": "a"}
    )


def local(instant: datetime) -> dict[str, str]:
    moment = instant.astimezone(timezone.get_current_timezone())
    return {"0": moment.strftime("%Y-%m-%d"), "1": moment.strftime("%H:%M:%S")}


def act(client: Client, schedules: list[Schedule], **fields: str):
    data = {"action": ACTION, "_selected_action": [s.pk for s in schedules], "index": 0, **fields}
    return client.post(LIST_URL, data, follow=True)


def range_fields(start: datetime, end: datetime) -> dict[str, str]:
    s, e = local(start), local(end)
    return {"start_0": s["0"], "start_1": s["1"], "end_0": e["0"], "end_1": e["1"]}


def test_the_page_previews_the_range_then_backfills_it_on_confirm(runner: User, client_for) -> None:
    client = client_for(runner)
    schedule = add("nightly")
    Execution.objects.create(
        schedule=schedule,
        job_id="nightly",
        func=REPORT,
        fire_time=DAY + timedelta(hours=1),
        status=ExecutionStatus.MISSED,
    )
    page = act(client, [schedule])
    assert page.status_code == 200 and 'id="schedules-backfill-form"' in page.content.decode()
    assert "backfill-selected-confirmation" in page.content.decode()
    assert "</a>\n&rsaquo; Backfill\n</div>" in page.content.decode()
    assert "schedules-backfill-preview" not in page.content.decode()

    before = snapshot()
    fields = range_fields(DAY, DAY + timedelta(hours=3))
    page = act(client, [schedule], _preview="Preview", **fields)
    html = page.content.decode()
    assert "3 occurrences: 2 new, 1 re-run, 0 left alone." in html
    rows = re.findall(r'<tr class="backfill-([a-z-]+)">', html)
    assert rows == ["new", "re-run", "new"]
    assert 'name="_confirm"' in html
    assert snapshot() == before  # a preview writes nothing

    previewed = re.search(r'name="previewed" value="([^"]+)"', html)
    assert previewed is not None
    page = act(
        client, [schedule], _confirm="Confirm backfill", previewed=previewed.group(1), **fields
    )
    assert "backfilled 3 occurrence(s): 2 new, 1 re-run, 0 left alone." in page.content.decode()
    kinds = Execution.objects.filter(job_id="nightly").values_list("kind", "status", "attempt")
    assert sorted(kinds) == [
        (ExecutionKind.BACKFILL, ExecutionStatus.PENDING, 1),
        (ExecutionKind.BACKFILL, ExecutionStatus.PENDING, 1),
        (ExecutionKind.BACKFILL, ExecutionStatus.PENDING, 2),
    ]


def test_a_confirm_of_a_range_not_previewed_previews_it_instead(runner: User, client_for) -> None:
    client = client_for(runner)
    schedule = add("nightly")
    previewed = f"{DAY.isoformat()}/{(DAY + timedelta(hours=1)).isoformat()}"
    before = snapshot()
    fields = range_fields(DAY, DAY + timedelta(hours=5))
    page = act(client, [schedule], _confirm="Confirm backfill", previewed=previewed, **fields)
    assert "5 occurrences: 5 new, 0 re-run, 0 left alone." in page.content.decode()
    assert snapshot() == before


def test_a_bad_range_is_refused_under_its_field_and_writes_nothing(
    runner: User, client_for
) -> None:
    client = client_for(runner)
    schedule = add("nightly")
    before = snapshot()
    future = datetime.now(UTC) + timedelta(days=2)
    page = act(client, [schedule], _preview="Preview", **range_fields(DAY, future))
    html = page.content.decode()
    assert re.search(
        r'field-end">\s*<ul class="errorlist[^"]*"[^>]*><li>end .* is in the future', html
    )
    assert "schedules-backfill-preview" not in html
    page = act(
        client, [schedule], _preview="Preview", **range_fields(DAY, DAY + timedelta(days=60))
    )
    assert "more than its limit of 1,000" in page.content.decode()
    assert snapshot() == before


def test_one_schedule_at_a_time(runner: User, client_for) -> None:
    client = client_for(runner)
    page = act(client, [add("a"), add("b")])
    assert "Select one schedule to backfill." in page.content.decode()


def test_staff_who_may_not_run_schedules_neither_see_nor_use_it(editor: User, client_for) -> None:
    client = client_for(editor)
    schedule = add("nightly")
    assert ACTION not in client.get(LIST_URL).content.decode()
    before = snapshot()
    fields = range_fields(DAY, DAY + timedelta(hours=3))
    previewed = f"{DAY.isoformat()}/{(DAY + timedelta(hours=3)).isoformat()}"
    act(client, [schedule], _confirm="Confirm backfill", previewed=previewed, **fields)
    assert snapshot() == before


def test_the_runner_sees_it_in_the_list(runner: User, client_for) -> None:
    add("nightly")
    assert ACTION in client_for(runner).get(LIST_URL).content.decode()
