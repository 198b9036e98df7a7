"""Jitter stays under the time between two fire times and under a day (issue 20): a longer
delay starts a run after the next one is due, and with max_instances 1 every later occurrence
is skipped while nothing runs."""

from __future__ import annotations

import pytest

from django_schedules import api
from django_schedules.exceptions import InvalidSchedule
from django_schedules.models import Schedule

pytestmark = pytest.mark.django_db

NOOP = "tests.testapp.jobs.noop"


@pytest.mark.parametrize(
    ("trigger", "arguments"),
    [
        ("interval", {"hours": 1, "jitter": 3600}),
        ("interval", {"hours": 1, "jitter": 999_999_999}),
        ("cron", {"minute": "*/5", "jitter": 300}),
        ("cron", {"hour": 9, "jitter": 86_400}),  # a day apart, and a day is the cap
        ("interval", {"weeks": 2, "jitter": 86_400}),
    ],
)
def test_add_job_refuses_jitter_that_reaches_the_next_run_or_a_day(
    trigger: str, arguments: dict[str, object]
) -> None:
    with pytest.raises(InvalidSchedule, match=r"^jitter must be shorter") as caught:
        api.add_job(NOOP, trigger, id="jittery", **arguments)
    assert caught.value.field == "jitter"
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(
    ("trigger", "arguments"),
    [
        ("interval", {"hours": 1, "jitter": 3599}),
        ("cron", {"minute": "*/5", "jitter": 299.5}),
        ("interval", {"weeks": 2, "jitter": 86_399}),
    ],
)
def test_add_job_keeps_jitter_just_under_its_bound(
    trigger: str, arguments: dict[str, object]
) -> None:
    schedule = api.add_job(NOOP, trigger, id="jittery", **arguments)
    assert schedule.trigger["jitter"] == arguments["jitter"]


def test_modify_job_refuses_a_trigger_whose_jitter_is_too_long() -> None:
    from django_schedules.triggers import IntervalTrigger

    api.add_job(NOOP, "interval", id="jittery", minutes=10)
    with pytest.raises(InvalidSchedule, match="jitter"):
        api.modify_job("jittery", trigger=IntervalTrigger(minutes=10, jitter=600))
    assert (
        "jitter" not in Schedule.objects.get().trigger
        or not Schedule.objects.get().trigger["jitter"]
    )
