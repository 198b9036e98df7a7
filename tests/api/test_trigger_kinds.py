"""The trigger kinds are the trigger classes' own facts (triggers.TRIGGER_KINDS): the API, the
model's choices and the admin read them rather than keeping lists of their own."""

from __future__ import annotations

import pytest

from django_schedules import api
from django_schedules.models import Schedule, TriggerKind
from django_schedules.triggers import TRIGGER_KINDS, trigger_kinds


def test_the_models_kind_choices_are_the_registered_kinds() -> None:
    assert sorted(TriggerKind.values) == sorted(trigger_kinds())


def test_add_job_takes_every_registered_kind_and_zones_the_zoned_ones() -> None:
    assert api.TRIGGER_NAMES == ("date", "interval", "cron", "calendarinterval", "and", "or")
    assert {"date", "interval", "cron", "calendarinterval"} == api._ZONED


@pytest.mark.parametrize(
    ("kind", "combines"),
    [("cron", False), ("interval", False), ("date", False), ("and", True), ("or", True)],
)
def test_a_schedule_knows_whether_its_trigger_combines_others(kind: str, combines: bool) -> None:
    assert TRIGGER_KINDS[kind].composite is combines
    assert Schedule(trigger_kind=kind).combines_triggers is combines


def test_a_row_with_an_unknown_kind_is_not_taken_for_a_combination() -> None:
    assert Schedule(trigger_kind="no-such-kind").combines_triggers is False
