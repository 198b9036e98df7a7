from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from tests.admin import admin_jobs

REPORT = "tests.admin.admin_jobs.send_report"
TIDY = "tests.admin.admin_jobs.tidy_up"
assert admin_jobs.send_report  # imported for its registration


def _staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="django_schedules", codename__in=codenames
        )
    )
    return user


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser("boss", "boss@example.com", "pw")


@pytest.fixture
def viewer(db: None) -> User:
    return _staff("viewer", "view_schedule", "view_execution")


@pytest.fixture
def editor(db: None) -> User:
    return _staff("editor", "view_schedule", "add_schedule", "change_schedule", "view_execution")


@pytest.fixture
def runner(db: None) -> User:
    return _staff(
        "runner",
        "view_schedule",
        "add_schedule",
        "change_schedule",
        "run_schedule",
        "view_execution",
    )


@pytest.fixture
def outsider(db: None) -> User:
    return User.objects.create_user("outsider", password="pw")


@pytest.fixture
def client_for() -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


def cron_form(**overrides: Any) -> dict[str, Any]:
    """POST data for the add form: a cron schedule chosen with the fields."""
    data: dict[str, Any] = {
        "job_id": "weekly-report",
        "name": "Weekly report",
        "func": REPORT,
        "args": "[]",
        "kwargs": '{"recipient": "team@example.com"}',
        "enabled": "on",
        "trigger_kind": "cron",
        "timezone": "Europe/Berlin",
        "cron_mode": "fields",
        "cron_day_of_week": ["mon", "fri"],
        "cron_hour": "9",
        "cron_minute": "30",
        "cron_second": "0",
        "executor": "default",
        "misfire_policy": "run_once",
        "misfire_grace_time": "60",
        "max_instances": "1",
        "max_retries": "0",
        "retry_delay": "0",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
