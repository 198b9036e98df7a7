from __future__ import annotations

import json
import re
import zoneinfo
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_schedules import api
from django_schedules.models import Execution, ExecutionKind, ExecutionStatus, Schedule
from tests.admin.conftest import REPORT, TIDY, cron_form

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:django_schedules_schedule_add")
LIST_URL = reverse("admin:django_schedules_schedule_changelist")
PREVIEW_URL = reverse("admin:django_schedules_schedule_preview")


def change_url(schedule: Schedule) -> str:
    return reverse("admin:django_schedules_schedule_change", args=[schedule.pk])


def add_report(job_id: str = "report", **options: object) -> Schedule:
    return api.add_job(
        REPORT,
        "cron",
        id=job_id,
        kwargs={"recipient": "a@example.com"},
        hour=9,
        minute=0,
        timezone="Europe/Berlin",
        **options,
    )


# --- creating and editing ---------------------------------------------------------------------


def test_staff_create_a_cron_schedule_with_the_fields(superuser: User, client_for) -> None:
    response = client_for(superuser).post(ADD_URL, cron_form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    schedule = Schedule.objects.get(job_id="weekly-report")
    assert schedule.source == "admin"
    assert schedule.trigger_kind == "cron"
    assert schedule.kwargs == {"recipient": "team@example.com"}
    assert schedule.trigger["day_of_week"] == "mon,fri"
    assert schedule.trigger["timezone"] == "Europe/Berlin"
    assert schedule.next_run_at is not None and schedule.next_run_at > datetime.now(UTC)
    local = schedule.next_run_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute, local.strftime("%a")) in {
        (9, 30, "Mon"),
        (9, 30, "Fri"),
    }


def test_staff_create_a_schedule_from_a_crontab_line(superuser: User, client_for) -> None:
    data = cron_form(cron_mode="crontab", crontab="15 6 * * 0", cron_day_of_week=None)
    response = client_for(superuser).post(ADD_URL, data)
    assert response.status_code == 302
    schedule = Schedule.objects.get(job_id="weekly-report")
    local = schedule.next_run_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    # crontab's 0 is Sunday.
    assert (local.strftime("%a"), local.hour, local.minute) == ("Sun", 6, 15)


@pytest.mark.parametrize(
    ("kind", "fields", "expected_kind"),
    [
        ("interval", {"interval_minutes": "15"}, "interval"),
        (
            "calendarinterval",
            {"calendar_months": "1", "calendar_time": "08:00:00"},
            "calendarinterval",
        ),
        ("date", {"run_date": "2099-05-01", "run_time": "12:00:00"}, "date"),
    ],
)
def test_staff_create_each_kind_of_schedule(
    superuser: User, client_for, kind: str, fields: dict[str, str], expected_kind: str
) -> None:
    response = client_for(superuser).post(ADD_URL, cron_form(trigger_kind=kind, **fields))
    assert response.status_code == 302, response.context["adminform"].form.errors
    schedule = Schedule.objects.get(job_id="weekly-report")
    assert schedule.trigger_kind == expected_kind
    assert schedule.next_run_at is not None


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form should have been shown again with errors"
    form = response.context["adminform"].form
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"cron_hour": "25"}, "cron_hour", "25"),
        ({"cron_minute": "61"}, "cron_minute", "61"),
        ({"trigger_kind": "interval"}, "interval_seconds", "greater than zero"),
        ({"trigger_kind": "interval", "interval_seconds": "-5"}, "interval_seconds", "0"),
        (
            {"start_date": "2030-01-02T00:00:00", "end_date": "2030-01-01T00:00:00"},
            "end_date",
            "2030-01-01",
        ),
        (
            {"trigger_kind": "date", "run_date": "2001-01-01", "run_time": "00:00:00"},
            "run_date",
            "2001-01-01",
        ),
        ({"kwargs": "{not json"}, "kwargs", "{not json"),
        ({"kwargs": '{"recipient": "x", "colour": "red"}'}, "kwargs", "colour"),
        ({"kwargs": "{}"}, "kwargs", "recipient"),
        ({"args": '{"a": 1}'}, "args", '{"a": 1}'),
        ({"timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
        ({"func": "os.system"}, "func", "os.system"),
        ({"cron_mode": "crontab", "crontab": "0 0 30 2 *"}, "crontab", "0 0 30 2 *"),
    ],
)
def test_each_bad_value_is_an_error_on_its_own_field_and_nothing_is_saved(
    superuser: User, client_for, overrides: dict[str, str], field: str, fragment: str
) -> None:
    response = client_for(superuser).post(ADD_URL, cron_form(**overrides))
    errors = form_errors(response)
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors
    assert not Schedule.objects.exists()


def test_the_change_page_shows_the_stored_timing(superuser: User, client_for) -> None:
    schedule = api.add_job(
        REPORT,
        "cron",
        id="r",
        kwargs={"recipient": "x"},
        hour=7,
        minute=45,
        day_of_week="tue,thu",
        timezone="America/New_York",
    )
    schedule.source = "admin"
    schedule.save()
    response = client_for(superuser).get(change_url(schedule))
    form = response.context["adminform"].form
    assert form.initial["trigger_kind"] == "cron"
    assert form.initial["timezone"] == "America/New_York"
    assert form.initial["cron_hour"] == "7"
    assert form.initial["cron_minute"] == "45"
    assert form.initial["cron_day_of_week"] == ["tue", "thu"]


def test_the_timing_of_a_schedule_declared_in_code_is_text_and_stays_as_declared(
    superuser: User, client_for
) -> None:
    schedule = add_report()
    before = (schedule.trigger, schedule.next_run_at, schedule.version)
    client = client_for(superuser)
    page = client.get(change_url(schedule))
    html = page.content.decode()
    form = page.context["adminform"].form
    assert "cron_hour" not in form.fields and "trigger_kind" not in form.fields
    assert "Declared in code" in html and "At 09:00" in html
    assert "Next fire times" in html and html.count("CET") + html.count("CEST") >= 5
    # Timing typed into the request anyway changes nothing; the new name is saved.
    data = cron_form(
        job_id=schedule.job_id,
        name="Renamed",
        cron_hour="11",
        cron_minute="0",
        cron_day_of_week=None,
        kwargs='{"recipient": "a@example.com"}',
    )
    response = client.post(change_url(schedule), data)
    assert response.status_code == 302, form_errors(response)
    schedule.refresh_from_db()
    assert schedule.name == "Renamed"
    assert (schedule.trigger, schedule.next_run_at) == before[:2]


def test_an_admin_made_schedule_can_be_retimed(superuser: User, client_for) -> None:
    client = client_for(superuser)
    assert client.post(ADD_URL, cron_form()).status_code == 302
    schedule = Schedule.objects.get(job_id="weekly-report")
    version = schedule.version
    response = client.post(
        change_url(schedule), cron_form(cron_hour="18", cron_day_of_week=["sat"])
    )
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.trigger["hour"] == "18"
    assert schedule.version > version


# --- the live preview ----------------------------------------------------------------------


def preview_query(**overrides: object) -> dict[str, object]:
    data = cron_form(**overrides)
    return {k: v for k, v in data.items() if k not in ("args", "kwargs", "func", "job_id", "name")}


def test_the_preview_describes_and_lists_five_fire_times(viewer: User, client_for) -> None:
    response = client_for(viewer).post(PREVIEW_URL, preview_query())
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] is True
    assert "09:30" in data["description"] and "Europe/Berlin" in data["description"]
    assert len(data["fire_times"]) == 5
    first = data["fire_times"][0]
    assert first["schedule_zone"].endswith(("CET", "CEST"))
    assert first["viewer_zone"].endswith("UTC")


def test_the_preview_warns_of_a_repeated_hour(superuser: User, client_for) -> None:
    # Berlin falls back on 2099-10-25 (last Sunday of October): 02:30 happens twice.
    query = preview_query(
        cron_mode="crontab",
        crontab="30 2 25 10 *",
        cron_day_of_week=None,
        start_date="2099-10-24T00:00:00",
    )
    data = client_for(superuser).post(PREVIEW_URL, query).json()
    assert data["ok"] is True, data
    assert data["fire_times"][0]["iso"].startswith("2099-10-25T02:30:00+02:00")
    assert data["fire_times"][0]["dst_note"]


def test_the_preview_names_a_bad_field(superuser: User, client_for) -> None:
    data = client_for(superuser).post(PREVIEW_URL, preview_query(cron_hour="99")).json()
    assert data["ok"] is False
    (error,) = data["errors"]
    assert (error["field"], error["label"]) == ("cron_hour", "Hour")
    assert any("'99'" in message for message in error["messages"])


def test_the_preview_is_a_post_with_the_csrf_token_and_sends_no_arguments(
    superuser: User,
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    assert client.get(PREVIEW_URL, preview_query()).status_code == 405
    assert client.post(PREVIEW_URL, preview_query()).status_code == 403
    page = client.get(ADD_URL).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = client.post(PREVIEW_URL, preview_query(), headers={"X-CSRFToken": token.group(1)})
    assert response.status_code == 200 and response.json()["ok"] is True
    # The page's script posts the timing fields alone: its list of them holds no argument.
    fields = json.loads(
        re.search(r'id="schedules-kind-fields"[^>]*>(.*?)</script>', page, re.S).group(1)
    )
    sent = {name for names in fields["kinds"].values() for name in names} | set(fields["common"])
    assert sent and not sent & {"args", "kwargs", "name", "func", "job_id"}


@pytest.mark.parametrize("user_fixture", [None, "outsider"])
def test_the_preview_rejects_anonymous_and_non_staff_users(
    request: pytest.FixtureRequest, client_for, user_fixture: str | None
) -> None:
    client = Client() if user_fixture is None else client_for(request.getfixturevalue(user_fixture))
    response = client.post(PREVIEW_URL, preview_query())
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_preview_rejects_staff_without_any_schedule_permission(client_for) -> None:
    user = User.objects.create_user("nobody", password="pw", is_staff=True)
    assert client_for(user).post(PREVIEW_URL, preview_query()).status_code == 403


# --- the change list -----------------------------------------------------------------------


def test_the_change_list_shows_description_next_run_and_last_outcome(
    superuser: User, client_for
) -> None:
    schedule = add_report()
    Execution.objects.create(
        schedule=schedule,
        job_id=schedule.job_id,
        fire_time=datetime(2026, 1, 1, tzinfo=UTC),
        status=ExecutionStatus.FAILED,
    )
    html = client_for(superuser).get(LIST_URL).content.decode()
    assert "At 09:00" in html
    assert "(in " in html  # the relative next run
    assert "schedules-status-bad" in html and "Failed" in html  # a word, not only a colour


def test_the_change_list_says_which_scheduler_group_made_a_schedule_in_code(
    superuser: User, client_for
) -> None:
    add_report("by-object", group="reports")
    add_report("by-module")
    html = client_for(superuser).get(LIST_URL).content.decode()
    assert "Code, group reports (timing locked)" in html
    assert html.count("Code (timing locked)") == 1  # the module function's: no group


def test_the_change_list_costs_the_same_queries_at_any_size(superuser: User, client_for) -> None:
    client = client_for(superuser)
    add_report("r0")
    client.get(LIST_URL)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as small:
        assert client.get(LIST_URL).status_code == 200
    for i in range(1, 40):
        add_report(f"r{i}")
    with CaptureQueriesContext(connection) as large:
        assert client.get(LIST_URL).status_code == 200
    assert len(large) == len(small), [q["sql"] for q in large.captured_queries]


def test_the_change_list_filters_by_last_outcome(superuser: User, client_for) -> None:
    failed, fine = add_report("failed"), add_report("fine")
    for schedule, status in ((failed, ExecutionStatus.FAILED), (fine, ExecutionStatus.SUCCEEDED)):
        Execution.objects.create(
            schedule=schedule,
            job_id=schedule.job_id,
            fire_time=datetime(2026, 1, 1, tzinfo=UTC),
            status=status,
        )
    response = client_for(superuser).get(LIST_URL, {"last_outcome": "failed"})
    shown = [s.job_id for s in response.context["cl"].result_list]
    assert shown == ["failed"]


# --- actions and permissions --------------------------------------------------------------


def post_action(client: Client, action: str, schedules: list[Schedule]):
    return client.post(
        LIST_URL,
        {"action": action, "_selected_action": [s.pk for s in schedules], "index": 0},
    )


def test_an_editor_pauses_and_resumes(editor: User, client_for) -> None:
    schedule, client = add_report(), client_for(editor)
    post_action(client, "pause_schedules", [schedule])
    schedule.refresh_from_db()
    assert schedule.enabled is False
    post_action(client, "resume_schedules", [schedule])
    schedule.refresh_from_db()
    assert schedule.enabled is True and schedule.next_run_at is not None


def test_a_viewer_can_neither_pause_resume_nor_run(viewer: User, client_for) -> None:
    schedule, client = add_report(), client_for(viewer)
    for action in ("pause_schedules", "resume_schedules", "run_schedules_now"):
        post_action(client, action, [schedule])
    for name in ("pause", "resume", "run"):
        url = reverse(f"admin:django_schedules_schedule_{name}", args=[schedule.pk])
        assert client.post(url).status_code == 403
    schedule.refresh_from_db()
    assert schedule.enabled is True
    assert not Execution.objects.exists()
    page = client.get(change_url(schedule)).content.decode()
    assert "Run now" not in page and "Pause" not in page


def test_running_now_needs_its_own_permission(editor: User, runner: User, client_for) -> None:
    schedule = add_report()
    url = reverse("admin:django_schedules_schedule_run", args=[schedule.pk])
    assert client_for(editor).post(url).status_code == 403
    assert not Execution.objects.exists()
    response = client_for(runner).post(url, follow=True)
    execution = Execution.objects.get()
    assert execution.kind == ExecutionKind.MANUAL
    assert execution.status == ExecutionStatus.PENDING  # the scheduler runs it, not the request
    link = reverse("admin:django_schedules_execution_change", args=[execution.pk])
    assert link in response.content.decode()


def test_the_run_now_action_records_a_manual_execution(runner: User, client_for) -> None:
    schedule = add_report()
    post_action(client_for(runner), "run_schedules_now", [schedule])
    assert Execution.objects.get().kind == ExecutionKind.MANUAL


def test_state_changes_need_post(runner: User, client_for) -> None:
    schedule = add_report()
    url = reverse("admin:django_schedules_schedule_pause", args=[schedule.pk])
    assert client_for(runner).get(url).status_code == 405


def test_state_changes_need_the_csrf_token(runner: User) -> None:
    schedule = add_report()
    client = Client(enforce_csrf_checks=True)
    client.force_login(runner)
    url = reverse("admin:django_schedules_schedule_pause", args=[schedule.pk])
    assert client.post(url).status_code == 403
    schedule.refresh_from_db()
    assert schedule.enabled is True


def test_a_viewer_cannot_add_or_change(viewer: User, client_for) -> None:
    client = client_for(viewer)
    assert client.post(ADD_URL, cron_form()).status_code == 403
    schedule = add_report()
    client.post(change_url(schedule), cron_form(job_id="report", cron_hour="3"))
    schedule.refresh_from_db()
    assert schedule.trigger["hour"] == "9"


def test_deleting_a_schedule_keeps_its_history(superuser: User, client_for) -> None:
    schedule = add_report()
    Execution.objects.create(
        schedule=schedule,
        job_id=schedule.job_id,
        name="Report",
        fire_time=datetime(2026, 1, 1, tzinfo=UTC),
        status=ExecutionStatus.SUCCEEDED,
    )
    url = reverse("admin:django_schedules_schedule_delete", args=[schedule.pk])
    assert client_for(superuser).post(url, {"post": "yes"}).status_code == 302
    execution = Execution.objects.get()
    assert execution.schedule_id is None and execution.job_id == "report"


def test_the_form_offers_only_registered_jobs(superuser: User, client_for) -> None:
    form = client_for(superuser).get(ADD_URL).context["adminform"].form
    names = [value for value, _label in form.fields["func"].choices]
    assert REPORT in names and TIDY in names
    labels = dict(form.fields["func"].choices)
    assert "E-mail the weekly report" in labels[REPORT]


def test_the_date_picker_reads_the_schedule_zone_not_the_viewers(
    superuser: User, client_for
) -> None:
    data = cron_form(
        trigger_kind="date", run_date="2099-07-01", run_time="12:00:00", timezone="Asia/Tokyo"
    )
    assert client_for(superuser).post(ADD_URL, data).status_code == 302
    schedule = Schedule.objects.get()
    assert schedule.next_run_at == datetime(2099, 7, 1, 3, 0, tzinfo=UTC)


def test_jitter_and_start_are_kept(superuser: User, client_for) -> None:
    data = cron_form(
        trigger_kind="interval", interval_hours="2", jitter="30", start_date="2099-01-01T06:00:00"
    )
    assert client_for(superuser).post(ADD_URL, data).status_code == 302
    trigger = Schedule.objects.get().trigger
    assert trigger["jitter"] == 30
    assert json.dumps(trigger).count("2099-01-01") == 1
    assert Schedule.objects.get().next_run_at == datetime(2099, 1, 1, 5, 0, tzinfo=UTC)


def test_a_paused_schedule_is_created_paused(superuser: User, client_for) -> None:
    data = cron_form()
    del data["enabled"]
    assert client_for(superuser).post(ADD_URL, data).status_code == 302
    assert Schedule.objects.get().enabled is False


def test_a_combined_schedule_made_in_code_is_shown_read_only(superuser: User, client_for) -> None:
    from django_schedules.triggers import AndTrigger, CronTrigger

    trigger = AndTrigger(
        [CronTrigger(day_of_week="mon-fri", hour=9), CronTrigger(day="1-7", hour=9)]
    )
    schedule = api.add_job(TIDY, trigger, id="first-weekdays")
    client = client_for(superuser)
    page = client.get(change_url(schedule))
    html = page.content.decode()
    assert trigger.describe() in html
    form = page.context["adminform"].form
    assert "trigger_kind" not in form.fields and "crontab" not in form.fields
    # Saving the other fields keeps the combined trigger as it was.
    data = {
        "name": "First weekdays",
        "func": TIDY,
        "args": "[]",
        "kwargs": "{}",
        "enabled": "on",
        "executor": "default",
        "misfire_policy": "run_once",
        "misfire_grace_time": "60",
        "max_instances": "1",
        "max_retries": "0",
        "retry_delay": "0",
    }
    response = client.post(change_url(schedule), data)
    assert response.status_code == 302, page.context["adminform"].form.errors
    schedule.refresh_from_db()
    assert schedule.name == "First weekdays"
    assert schedule.trigger == trigger.to_dict()


# --- errors in the form's words, on the field typed in ----------------------------------------

CODE_WORDS = ("Trigger", "_", "None", "from_crontab")


@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [
        ({"cron_mode": "crontab", "crontab": "0 9 * * 8"}, "crontab", "'8'"),
        ({"cron_mode": "crontab", "crontab": "61 * * * *"}, "crontab", "'61'"),
        ({"cron_mode": "crontab", "crontab": "0 25 * * *"}, "crontab", "'25'"),
        ({"cron_mode": "crontab", "crontab": "0 0 * 13 *"}, "crontab", "'13'"),
        ({"cron_mode": "crontab", "crontab": "0 9 * *"}, "crontab", "'0 9 * *'"),
        ({"cron_hour": "25"}, "cron_hour", "'25'"),
        ({"cron_day": "32"}, "cron_day", "'32'"),
        ({"cron_month": "jan-foo"}, "cron_month", "'jan-foo'"),
        (
            {"start_date": "2030-01-02T00:00:00", "end_date": "2030-01-01T00:00:00"},
            "end_date",
            "2030-01-01 00:00:00",
        ),
        ({"timeout": "0"}, "timeout", "0"),
        ({"retry_delay": "-1"}, "retry_delay", "-1"),
        ({"trigger_kind": "interval", "interval_seconds": "-5"}, "interval_seconds", "0"),
    ],
)
def test_an_error_sits_on_the_field_typed_in_and_says_it_in_the_forms_words(
    superuser: User, client_for, overrides: dict[str, str], field: str, value: str
) -> None:
    errors = form_errors(client_for(superuser).post(ADD_URL, cron_form(**overrides)))
    assert list(errors) == [field], errors
    (message,) = errors[field]
    assert value in message, message
    assert not [word for word in CODE_WORDS if word in message], message
    assert not Schedule.objects.exists()


def test_every_bad_setting_gets_its_own_error_at_once(superuser: User, client_for) -> None:
    errors = form_errors(
        client_for(superuser).post(ADD_URL, cron_form(timeout="0", max_instances="0"))
    )
    assert set(errors) == {"timeout", "max_instances"}, errors


def test_the_preview_says_a_crontab_error_in_the_forms_words(superuser: User, client_for) -> None:
    data = preview_query(cron_mode="crontab", crontab="0 9 * * 8")
    body = client_for(superuser).post(PREVIEW_URL, data).json()
    assert body["ok"] is False
    (error,) = body["errors"]
    assert error["label"] == "Crontab line"
    (message,) = error["messages"]
    assert "'8'" in message and "Trigger" not in message and "_" not in message


# --- a timing that would never fire, jitter, switching kinds ----------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cron_year": "2001"}, "cron_year"),
        (
            {
                "trigger_kind": "interval",
                "interval_hours": "1",
                "start_date": "2001-01-01T00:00:00",
                "end_date": "2001-02-01T00:00:00",
            },
            "end_date",
        ),
        ({"trigger_kind": "interval", "interval_hours": "1", "jitter": "999999999"}, "jitter"),
        ({"trigger_kind": "interval", "interval_hours": "1", "jitter": "3600"}, "jitter"),
        ({"cron_hour": "*", "cron_minute": "*/5", "jitter": "300"}, "jitter"),
        ({"cron_mode": "crontab", "crontab": "@yearly", "jitter": "86400"}, "jitter"),
    ],
)
def test_a_timing_that_never_fires_or_whose_jitter_reaches_the_next_run_is_refused(
    superuser: User, client_for, overrides: dict[str, str], field: str
) -> None:
    errors = form_errors(client_for(superuser).post(ADD_URL, cron_form(**overrides)))
    assert list(errors) == [field], errors
    assert not Schedule.objects.exists()


def test_jitter_just_under_the_interval_is_kept(superuser: User, client_for) -> None:
    data = cron_form(trigger_kind="interval", interval_hours="1", jitter="3599")
    assert client_for(superuser).post(ADD_URL, data).status_code == 302
    assert Schedule.objects.get().trigger["jitter"] == 3599


def test_a_one_off_switched_to_an_interval_starts_with_an_empty_window(
    superuser: User, client_for
) -> None:
    client = client_for(superuser)
    data = cron_form(trigger_kind="date", run_date="2099-05-01", run_time="12:00:00")
    assert client.post(ADD_URL, data).status_code == 302
    schedule = Schedule.objects.get()
    form = client.get(change_url(schedule)).context["adminform"].form
    assert form.initial.get("start_date") is None and form.initial.get("end_date") is None
    # Saved as an interval with the fields as shown: it runs.
    data = cron_form(trigger_kind="interval", interval_minutes="5", job_id=schedule.job_id)
    response = client.post(change_url(schedule), data)
    assert response.status_code == 302, form_errors(response)
    schedule.refresh_from_db()
    assert schedule.trigger_kind == "interval" and schedule.next_run_at is not None


# --- the timing as text: viewers, code-declared timing, AND/OR ---------------------------------


def test_a_viewer_reads_the_timing_as_text_not_as_empty_fields(viewer: User, client_for) -> None:
    client = client_for(viewer)
    schedule = api.add_job(
        REPORT, "interval", hours=2, id="every-2h", kwargs={"recipient": "x"}, source="admin"
    )
    page = client.get(change_url(schedule))
    html = page.content.decode()
    assert "Every 2 hours" in html
    assert html.count("<tr><td>") >= 5  # the next five fire times
    for internal in ("Interval seconds", "Cron mode", "Run date", "Calendar years"):
        assert internal not in html, internal
    assert not re.search(r'<div class="readonly">None</div>', html)


def test_a_combined_schedule_lists_its_next_fire_times(superuser: User, client_for) -> None:
    from django_schedules.triggers import CronTrigger, OrTrigger

    trigger = OrTrigger([CronTrigger(hour=9, timezone="UTC"), CronTrigger(hour=18, timezone="UTC")])
    schedule = api.add_job(TIDY, trigger, id="twice-a-day")
    html = client_for(superuser).get(change_url(schedule)).content.decode()
    times = re.findall(r"<tr><td>\w{3} \d{4}-\d\d-\d\d (\d\d:\d\d):00 UTC</td>", html)
    assert len(times) == 5 and set(times) == {"09:00", "18:00"}, times


def test_a_calendar_interval_says_which_months_it_skips(superuser: User, client_for) -> None:
    data = preview_query(
        trigger_kind="calendarinterval",
        calendar_months="1",
        calendar_time="08:00:00",
        start_date="2099-01-31T00:00:00",
    )
    body = client_for(superuser).post(PREVIEW_URL, data).json()
    assert body["ok"] is True, body
    assert any("31" in note and "February" in note for note in body["notes"]), body


def test_dates_use_the_admins_own_widgets_not_the_browsers(superuser: User, client_for) -> None:
    html = client_for(superuser).get(ADD_URL).content.decode()
    inputs = {
        re.search(r'name="([^"]+)"', tag).group(1): tag
        for tag in re.findall(r"<input[^>]*>", html)
        if 'name="' in tag
    }
    for name in ("run_date", "start_date_0", "end_date_0"):
        assert 'class="vDateField"' in inputs[name], inputs[name]
    for name in ("run_time", "calendar_time", "start_date_1", "end_date_1"):
        assert 'class="vTimeField"' in inputs[name], inputs[name]
    assert 'type="date"' not in html and 'type="datetime-local"' not in html


def test_a_start_typed_in_the_two_inputs_is_read_in_the_schedules_zone(
    superuser: User, client_for
) -> None:
    data = cron_form(
        trigger_kind="interval", interval_hours="2", start_date_0="2099-01-01",
        start_date_1="06:00:00", timezone="Asia/Tokyo",
    )  # fmt: skip
    assert client_for(superuser).post(ADD_URL, data).status_code == 302
    assert Schedule.objects.get().next_run_at == datetime(2098, 12, 31, 21, 0, tzinfo=UTC)


# --- the list: order, last run, job filter, names that tell schedules apart --------------------


def test_the_list_sorts_by_name_and_filters_by_job(superuser: User, client_for) -> None:
    api.add_job(REPORT, "interval", id="b-id", name="Alpha", hours=1, kwargs={"recipient": "x"})
    api.add_job(TIDY, "interval", id="a-id", name="Beta", hours=1)
    client = client_for(superuser)
    rows = client.get(LIST_URL).context["cl"].result_list
    assert [s.name for s in rows] == ["Alpha", "Beta"]
    rows = client.get(LIST_URL, {"func": TIDY}).context["cl"].result_list
    assert [s.job_id for s in rows] == ["a-id"]


def test_the_list_shows_when_each_schedule_last_ran(superuser: User, client_for) -> None:
    schedule = add_report()
    Execution.objects.create(
        schedule=schedule, job_id=schedule.job_id, fire_time=datetime(2026, 1, 1, tzinfo=UTC),
        status=ExecutionStatus.SUCCEEDED,
    )  # fmt: skip
    html = client_for(superuser).get(LIST_URL).content.decode()
    cell = re.search(r'<td class="field-last_run">(.*?)</td>', html, re.S)
    assert cell is not None and "Succeeded" in cell.group(1) and "2026-01-01" in cell.group(1)


def test_two_schedules_of_one_job_print_apart() -> None:
    first = api.add_job(TIDY, "interval", id="tidy-hourly", hours=1)
    second = api.add_job(TIDY, "interval", id="tidy-daily", days=1)
    assert str(first) != str(second)
    assert str(first) == f"{first.name} (tidy-hourly)"
