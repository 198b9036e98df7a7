"""The admin's schedule form (add and change) and the preview view, fed hostile POST and GET data.

Allowed outcomes: saved (302), or the form again (200) with errors on the form's own fields and
no row written. Never a 500: the test client re-raises any exception a view lets escape.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from django_schedules import api
from django_schedules.forms import ScheduleForm, TriggerForm
from django_schedules.models import Schedule
from tests.admin.conftest import REPORT, cron_form
from tests.databases import snapshot
from tests.security.helpers import FUZZ_DB

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(600)]

ADD_URL = reverse("admin:django_schedules_schedule_add")
PREVIEW_URL = reverse("admin:django_schedules_schedule_preview")
FORM_FIELDS = set(ScheduleForm.base_fields) | set(TriggerForm.base_fields)

# Values near the edges of what each field reads, and plain junk. NUL and other control
# characters are included: the browser sends whatever it is given.
edge_text = st.sampled_from(
    [
        "", " ", "0", "-1", "1e308", "-1e308", "nan", "inf", "-inf", "2147483648",
        "99999999999999999999999", "0.000001", "1.5", "*", "*/0", "*/1000000", "1-0",
        "last", "5th sun", "mon-sun/2", "0 0 31 2 *", "@reboot", "@yearly", "60 * * * *",
        "9999-12-31", "0001-01-01", "9999-12-31T23:59:59", "0001-01-01T00:00:00",
        "2026-03-29T02:30:00", "23:59:59", "24:00:00", "Etc/GMT+14", "Etc/GMT-14",
        "../../etc/passwd", "UTC\x00", "<script>alert(1)</script>", "[]", "{}", "null",
        '{"recipient": "\\u0000"}', '["\\ud800"]', "[1e400]", '{"recipient": 1e999}',
        '{"recipient": "x", "context": 1}', "[" * 2000, "a" * 5000,
        "tests.admin.admin_jobs.send_report", "os.system", "builtins.eval",
    ]
)  # fmt: skip
junk_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60)
field_value = st.one_of(edge_text, junk_text, st.lists(edge_text, min_size=2, max_size=3))
form_changes = st.dictionaries(
    st.sampled_from(sorted(FORM_FIELDS - {"trigger_kind"})), field_value, max_size=5
)
kinds = st.sampled_from(["cron", "interval", "calendarinterval", "date", "and", "", "bogus"])


def assert_refused_or_saved(response: Any, before: Any) -> bool:
    """Return True when the form saved; else check the errors and that nothing was written."""
    if response.status_code == 302:
        return True
    assert response.status_code == 200, response.status_code
    form = response.context["adminform"].form
    assert form.errors, "shown again without an error"
    assert set(form.errors) <= FORM_FIELDS | {"__all__"}, form.errors
    assert all(str(message).strip() for errs in form.errors.values() for message in errs)
    assert snapshot() == before
    return False


@FUZZ_DB
@given(kind=kinds, changes=form_changes)
def test_the_add_form_saves_or_names_the_field(
    superuser: User, kind: str, changes: dict[str, Any]
) -> None:
    client = Client()
    client.force_login(superuser)
    before = snapshot()
    response = client.post(ADD_URL, {**cron_form(trigger_kind=kind), **changes})
    if assert_refused_or_saved(response, before):
        saved = Schedule.objects.get()  # exactly one row: the one this form made
        assert saved.source == "admin" and saved.trigger["kind"] == saved.trigger_kind
        saved.delete()


@FUZZ_DB
@given(kind=kinds, changes=form_changes)
def test_the_change_form_saves_or_names_the_field(
    superuser: User, kind: str, changes: dict[str, Any]
) -> None:
    schedule = api.add_job(
        REPORT, "cron", id="fuzzed", kwargs={"recipient": "a"}, hour=9, source="admin"
    )
    client = Client()
    client.force_login(superuser)
    url = reverse("admin:django_schedules_schedule_change", args=[schedule.pk])
    try:
        before = snapshot()
        data = {**cron_form(job_id="fuzzed", trigger_kind=kind), **changes}
        if not assert_refused_or_saved(client.post(url, data), before):
            assert Schedule.objects.get(pk=schedule.pk).trigger == schedule.trigger
    finally:
        Schedule.objects.filter(pk=schedule.pk).delete()


@FUZZ_DB
@given(kind=kinds, changes=form_changes)
def test_the_preview_answers_ok_or_names_the_field(
    superuser: User, kind: str, changes: dict[str, Any]
) -> None:
    client = Client()
    client.force_login(superuser)
    response = client.post(PREVIEW_URL, {**cron_form(trigger_kind=kind), **changes})
    assert response.status_code == 200
    data = response.json()
    if data["ok"]:
        assert data["description"] and len(data["fire_times"]) <= 5
    else:
        fields = {error["field"] for error in data["errors"]}
        assert fields and fields <= FORM_FIELDS | {"__all__"}, data


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # Each was a 500: the form took it and the API refused it on save.
        ("retry_delay", "-1"),
        ("timeout", "0"),
        ("timeout", "-1"),
        ("misfire_grace_time", "0"),
        ("max_instances", "0"),
        # Each was saved, then overflowed a wait or the column on PostgreSQL and MariaDB.
        ("timeout", "1e308"),
        ("retry_delay", "1e308"),
        ("misfire_grace_time", "2147483648"),
        ("max_retries", "99999999999"),
        # A lone surrogate parsed from JSON made the page fail to render.
        ("args", '["\\ud800"]'),
        ("kwargs", '{"recipient": "\\u0000"}'),
        ("kwargs", '{"recipient": ' + "[" * 40 + "]" * 40 + "}"),
    ],
)
def test_what_fuzzing_found_is_an_error_on_its_field(
    superuser: User, client_for: Any, field: str, value: str
) -> None:
    before = snapshot()
    response = client_for(superuser).post(ADD_URL, {**cron_form(), field: value})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field], errors
    assert value[:20] in str(errors[field]) or field in str(errors[field])
    assert snapshot() == before
