from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_schedules import checks
from django_schedules.checks import check_settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_default_settings_pass() -> None:
    assert check_settings(None) == []


@override_settings(USE_TZ=False)
def test_it_requires_use_tz() -> None:
    (error,) = check_settings(None)
    assert error.id == "django_schedules.E001"
    assert "USE_TZ = True" in error.msg


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "0.5", True, None])
def test_it_rejects_a_poll_interval_that_is_not_a_positive_number(value: object) -> None:
    with override_settings(SCHEDULES_POLL_INTERVAL=value):
        (error,) = check_settings(None)
    assert error.id == "django_schedules.E002"
    assert f"got {value!r}" in error.msg


@pytest.mark.parametrize("value", [0, -5, "15"])
def test_it_rejects_a_lease_ttl_that_is_not_a_positive_number(value: object) -> None:
    with override_settings(SCHEDULES_LEASE_TTL=value):
        (error,) = check_settings(None)
    assert error.id == "django_schedules.E003"


@override_settings(SCHEDULES_SHUTDOWN_GRACE=-1)
def test_it_rejects_a_negative_shutdown_grace() -> None:
    (error,) = check_settings(None)
    assert error.id == "django_schedules.E004" and "got -1" in error.msg


@override_settings(SCHEDULES_RESULT_MAX_CHARS=2.5)
def test_it_rejects_a_fractional_result_cap() -> None:
    (error,) = check_settings(None)
    assert error.id == "django_schedules.E005" and "got 2.5" in error.msg


@pytest.mark.parametrize("value", [30, timedelta(0), timedelta(days=-1)])
def test_it_rejects_a_keep_executions_that_is_not_a_positive_timedelta(value: object) -> None:
    with override_settings(SCHEDULES_KEEP_EXECUTIONS=value):
        (error,) = check_settings(None)
    assert error.id == "django_schedules.E006"


@override_settings(SCHEDULES_KEEP_EXECUTIONS=None)
def test_none_keeps_every_execution() -> None:
    assert check_settings(None) == []


@override_settings(SCHEDULES_POLL_INTERVAL=0)
def test_the_checks_are_registered() -> None:
    with pytest.raises(SystemCheckError, match=r"django_schedules\.E002"):
        call_command("check")


def test_each_check_id_is_used_once_and_documented() -> None:
    # checks.py writes each id as a string literal exactly once (at the site that raises it).
    ids = re.findall(r'"(django_schedules\.[EW]\d{3})"', Path(checks.__file__).read_text())
    assert ids and len(ids) == len(set(ids)), ids
    docs = (DOCS / "checks.md").read_text()
    assert [i for i in ids if f"## {i}\n" not in docs] == []


def test_the_metrics_settings_pass_by_default_and_when_set() -> None:
    assert checks.check_metrics(None) == []
    with override_settings(SCHEDULES_METRICS_TOKEN="x" * 16, SCHEDULES_METRICS_PUBLIC=True):
        assert checks.check_metrics(None) == []


@pytest.mark.parametrize("value", ["tiny-tok", 12345678901234567890, b"bytes-token-of-length"])
def test_a_metrics_token_that_is_short_or_not_a_string_is_refused_without_echoing_it(
    value: object,
) -> None:
    with override_settings(SCHEDULES_METRICS_TOKEN=value):
        (error,) = checks.check_metrics(None)
    assert error.id == "django_schedules.E018"
    assert "SCHEDULES_METRICS_TOKEN" in error.msg and str(value) not in error.msg


@pytest.mark.parametrize("value", ["false", 1, None])
def test_metrics_public_must_be_a_bool(value: object) -> None:
    with override_settings(SCHEDULES_METRICS_PUBLIC=value):
        (error,) = checks.check_metrics(None)
    assert error.id == "django_schedules.E019" and f"got {value!r}" in error.msg


@override_settings(SCHEDULES_METRICS_PUBLIC="yes")
def test_the_metrics_check_is_registered() -> None:
    with pytest.raises(SystemCheckError, match=r"django_schedules\.E019"):
        call_command("check")
