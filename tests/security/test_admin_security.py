"""The admin against hostile values, and who may do what.

Every value a job, a row or a scheduler process controls is shown as text; every page of ours
carries the security headers of Django's middleware as tests/settings.py configures it; and the
permission matrix of the admin issue (docs/admin.md) holds for every action and view.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from django_schedules import api, store
from django_schedules.models import Execution, ExecutionStatus, Schedule, SchedulerLease
from tests.admin.conftest import REPORT

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
RAW = ("<script>alert(", "<img src=x onerror")
ESCAPED = "&lt;script&gt;alert("


def hostile_schedule() -> Schedule:
    schedule = api.add_job(
        REPORT,
        "cron",
        id="hostile",
        name=HOSTILE,
        kwargs={"recipient": HOSTILE},
        hour=9,
        source="admin",
    )
    # Written behind the API's back: arguments that no longer bind, and an error text.
    Schedule.objects.filter(pk=schedule.pk).update(last_error=HOSTILE, args=[HOSTILE])
    return schedule


def hostile_execution(schedule: Schedule | None, minute: int = 0) -> Execution:
    return Execution.objects.create(
        schedule=schedule,
        job_id=HOSTILE[:200],
        name=HOSTILE,
        func=HOSTILE,
        fire_time=datetime(2026, 1, 1, 0, minute, tzinfo=UTC),
        status=ExecutionStatus.FAILED,
        reason=HOSTILE,
        result=HOSTILE,
        traceback=f"Traceback (most recent call last):\nValueError: {HOSTILE}",
        worker=HOSTILE,
        executor=HOSTILE[:100],
    )


def hostile_scheduler() -> None:
    """A scheduler process and lease whose host, owner and group are markup."""
    store.report_process(
        store.ProcessReport(
            group=HOSTILE[:100],
            owner=HOSTILE + ":1:x",
            host=HOSTILE,
            pid=1,
            version=HOSTILE[:50],
            role="leader",
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
            last_tick_at=None,
            fired_last_minute=0,
        )
    )
    SchedulerLease.objects.create(
        group=HOSTILE[:100],
        owner=HOSTILE + ":1:x",
        epoch=1,
        expires_at=store.database_now() + timedelta(seconds=30),
    )


def assert_escaped(html: str, shown: bool = True) -> None:
    for raw in RAW:
        assert raw not in html
    if shown:
        assert ESCAPED in html


# -- escaping ------------------------------------------------------------------------------------


def test_every_job_controlled_value_is_escaped_on_every_page(superuser: User, client_for) -> None:
    schedule = hostile_schedule()
    execution = hostile_execution(schedule)
    hostile_execution(None, minute=1)  # its schedule deleted: the name is shown as text
    hostile_scheduler()
    client = client_for(superuser)
    pages = {
        "schedule list": reverse("admin:django_schedules_schedule_changelist"),
        "schedule page": reverse("admin:django_schedules_schedule_change", args=[schedule.pk]),
        "schedule delete": reverse("admin:django_schedules_schedule_delete", args=[schedule.pk]),
        "schedule history": reverse("admin:django_schedules_schedule_history", args=[schedule.pk]),
        "execution list": reverse("admin:django_schedules_execution_changelist"),
        "execution page": reverse("admin:django_schedules_execution_change", args=[execution.pk]),
        "executions of one schedule": reverse("admin:django_schedules_execution_changelist")
        + f"?schedule={schedule.pk}",
    }
    for page, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, page
        assert_escaped(response.content.decode(), shown=page != "schedule history")
    panel = client.get(pages["schedule list"]).content.decode()
    assert panel.count(ESCAPED) >= 4  # the group, the leader's name, the schedule's name...


def test_messages_about_a_hostile_schedule_are_escaped(runner: User, client_for) -> None:
    schedule = hostile_schedule()
    client = client_for(runner)
    for name in ("pause", "resume", "run"):
        url = reverse(f"admin:django_schedules_schedule_{name}", args=[schedule.pk])
        assert_escaped(client.post(url, follow=True).content.decode())


def test_the_preview_is_json_that_the_page_shows_as_text(superuser: User, client_for) -> None:
    url = reverse("admin:django_schedules_schedule_preview")
    query = {"trigger_kind": "cron", "timezone": "UTC", "cron_hour": HOSTILE}
    response = client_for(superuser).post(url, query)
    assert response["Content-Type"] == "application/json"
    assert response.json()["ok"] is False
    (error,) = response.json()["errors"]
    assert error["field"] == "cron_hour" and HOSTILE in error["messages"][0]
    # The page's script puts preview text into the DOM with textContent only.
    script = Path(store.__file__).parent.parent / "static" / "django_schedules" / "schedule_form.js"
    code = script.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in code


# -- security headers ------------------------------------------------------------------------


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def our_pages(schedule: Schedule, execution: Execution) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, data) of every page and endpoint the app adds to the admin."""
    schedule_url = "admin:django_schedules_schedule_"
    return [
        ("get", reverse(f"{schedule_url}changelist"), {}),
        ("get", reverse(f"{schedule_url}add"), {}),
        ("get", reverse(f"{schedule_url}change", args=[schedule.pk]), {}),
        ("get", reverse(f"{schedule_url}delete", args=[schedule.pk]), {}),
        ("get", reverse(f"{schedule_url}history", args=[schedule.pk]), {}),
        ("post", reverse(f"{schedule_url}preview"), {"trigger_kind": "cron", "cron_hour": "9"}),
        ("post", reverse(f"{schedule_url}pause", args=[schedule.pk]), {}),
        ("post", reverse(f"{schedule_url}resume", args=[schedule.pk]), {}),
        ("post", reverse(f"{schedule_url}run", args=[schedule.pk]), {}),
        ("post", reverse(f"{schedule_url}changelist"), {"action": "pause_schedules"}),
        ("get", reverse("admin:django_schedules_execution_changelist"), {}),
        ("get", reverse("admin:django_schedules_execution_change", args=[execution.pk]), {}),
        ("get", reverse(f"{schedule_url}change", args=[999_999]), {}),  # a 302 to the list
    ]


@pytest.mark.parametrize("who", ["superuser", "viewer", "anonymous"])
def test_every_page_of_ours_sets_the_security_headers(
    who: str, request: pytest.FixtureRequest, client_for
) -> None:
    schedule = hostile_schedule()
    execution = hostile_execution(schedule)
    client = Client() if who == "anonymous" else client_for(request.getfixturevalue(who))
    for method, url, data in our_pages(schedule, execution):
        response = getattr(client, method)(url, data)
        assert response.status_code in (200, 302, 403), (url, response.status_code)
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (who, method, url, header)


# -- the permission matrix -----------------------------------------------------------------

# Who does what (docs/admin.md, "Permissions"): view sees; change edits, pauses and resumes;
# running now needs run_schedule on top of change; add adds; delete deletes; the preview
# needs any of view, add or change; executions need view_execution and are never changed.
USERS: dict[str, tuple[str, ...] | None] = {
    "anonymous": None,
    "non-staff with every permission": ("*",),
    "staff without permissions": (),
    "view": ("view_schedule",),
    "add": ("add_schedule",),
    "change": ("change_schedule",),
    "delete": ("delete_schedule",),
    "run without change": ("view_schedule", "run_schedule"),
    "change and run": ("change_schedule", "run_schedule"),
    "view executions": ("view_execution",),
    "superuser": ("superuser",),
}
ALL = frozenset(
    {"view_schedule", "add_schedule", "change_schedule", "delete_schedule", "run_schedule"}
    | {"view_execution"}
)


def allowed(perms: frozenset[str]) -> dict[str, bool]:
    see = bool(perms & {"view_schedule", "change_schedule"})
    change = "change_schedule" in perms
    return {
        "list": see,
        "add": "add_schedule" in perms,
        "change page": see,
        "change": change,
        "delete": "delete_schedule" in perms,
        "preview": bool(perms & {"view_schedule", "add_schedule", "change_schedule"}),
        "pause": change,
        "resume": change,
        "run": change and "run_schedule" in perms,
        "executions": "view_execution" in perms,
        "execution page": "view_execution" in perms,
    }


def make_user(name: str) -> User | None:
    perms = USERS[name]
    if perms is None:
        return None
    if perms == ("superuser",):
        return User.objects.create_superuser("boss2", "b@example.com", "pw")
    user = User.objects.create_user("u", password="pw", is_staff=perms != ("*",))
    codenames = ALL if perms == ("*",) else perms
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="django_schedules", codename__in=codenames
        )
    )
    return user


def effective(name: str) -> frozenset[str]:
    perms = USERS[name]
    if perms is None or perms == ("*",):
        return frozenset()  # anonymous, and not staff: the admin lets in neither
    return ALL if perms == ("superuser",) else frozenset(perms)


def operations(schedule: Schedule, execution: Execution) -> dict[str, Callable[[Client], Any]]:
    def url(name: str, *args: object) -> str:
        return reverse(f"admin:django_schedules_{name}", args=args)

    change_data = {
        "name": "Renamed", "func": REPORT, "args": "[]", "kwargs": '{"recipient": "a"}',
        "enabled": "on", "trigger_kind": "cron", "timezone": "UTC", "cron_mode": "fields",
        "cron_hour": "9", "cron_minute": "0", "cron_second": "0", "executor": "default",
        "misfire_policy": "run_once", "misfire_grace_time": "60", "max_instances": "1",
        "max_retries": "0", "retry_delay": "0",
    }  # fmt: skip
    add_data = {**change_data, "job_id": "added"}
    return {
        "list": lambda c: c.get(url("schedule_changelist")),
        "add": lambda c: c.post(url("schedule_add"), add_data),
        "change page": lambda c: c.get(url("schedule_change", schedule.pk)),
        "change": lambda c: c.post(url("schedule_change", schedule.pk), change_data),
        "delete": lambda c: c.post(url("schedule_delete", schedule.pk), {"post": "yes"}),
        "preview": lambda c: c.post(url("schedule_preview"), {"cron_hour": "9"}),
        "pause": lambda c: c.post(url("schedule_pause", schedule.pk)),
        "resume": lambda c: c.post(url("schedule_resume", schedule.pk)),
        "run": lambda c: c.post(url("schedule_run", schedule.pk)),
        "executions": lambda c: c.get(url("execution_changelist")),
        "execution page": lambda c: c.get(url("execution_change", execution.pk)),
    }


def happened(operation: str, schedule: Schedule, executions_before: int) -> bool | None:
    """Whether the operation's effect is in the database (None: it has none to look for)."""
    row = Schedule.objects.filter(pk=schedule.pk).first()
    return {
        "add": Schedule.objects.filter(job_id="added").exists(),
        "change": row is not None and row.name == "Renamed",
        "delete": row is None,
        "pause": row is not None and not row.enabled,
        "resume": row is not None and row.enabled,
        "run": Execution.objects.count() > executions_before,
    }.get(operation)


@pytest.mark.parametrize("operation", list(allowed(frozenset())))
@pytest.mark.parametrize("who", list(USERS))
def test_the_permission_matrix(who: str, operation: str) -> None:
    schedule = api.add_job(REPORT, "cron", id="s", kwargs={"recipient": "a"}, hour=9)
    Schedule.objects.filter(pk=schedule.pk).update(source="admin")
    if operation == "resume":
        api.pause_job("s")
    execution = hostile_execution(schedule)
    user, client = make_user(who), Client()
    if user is not None:
        client.force_login(user)
    before = Execution.objects.count()

    response = operations(schedule, execution)[operation](client)

    if USERS[who] is None or USERS[who] == ("*",):
        assert response.status_code == 302 and "/login/" in response["Location"]
        assert not happened(operation, schedule, before)
        return
    may = allowed(effective(who))[operation]
    if may:
        assert response.status_code in (200, 302), response.status_code
        if operation in ("add", "change"):
            assert response.status_code == 302, response.context["adminform"].form.errors
    else:
        assert response.status_code == 403, response.status_code
    effect = happened(operation, schedule, before)
    assert effect in (None, may), (who, operation, effect)


ACTIONS = {
    "pause_schedules": "change_schedule",
    "resume_schedules": "change_schedule",
    "run_schedules_now": "run_schedule",
    "delete_selected": "delete_schedule",
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize(
    "who", ["view", "change", "delete", "run without change", "change and run", "superuser"]
)
def test_each_change_list_action_needs_its_permission(who: str, action: str) -> None:
    schedule = api.add_job(REPORT, "cron", id="s", kwargs={"recipient": "a"}, hour=9)
    if action == "resume_schedules":
        api.pause_job("s")
    client = Client()
    client.force_login(make_user(who))
    data = {"action": action, "_selected_action": [schedule.pk], "index": 0, "post": "yes"}
    response = client.post(reverse("admin:django_schedules_schedule_changelist"), data)
    perms = effective(who)
    # The change list itself needs view or change; run also needs change (as its button).
    may = bool(perms & {"view_schedule", "change_schedule"}) and ACTIONS[action] in perms
    if action == "run_schedules_now":
        may = may and "change_schedule" in perms
    assert response.status_code in (200, 302, 403)
    effect = {
        "pause_schedules": lambda: not Schedule.objects.get(pk=schedule.pk).enabled,
        "resume_schedules": lambda: Schedule.objects.get(pk=schedule.pk).enabled,
        "run_schedules_now": lambda: Execution.objects.exists(),
        "delete_selected": lambda: not Schedule.objects.filter(pk=schedule.pk).exists(),
    }[action]()
    assert effect == may, (who, action)
