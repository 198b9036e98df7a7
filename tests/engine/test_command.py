from __future__ import annotations

import re
from argparse import ArgumentTypeError

import pytest
from django.core.management import CommandError, call_command

from django_schedules.management.commands.runscheduler import group_name, positive_seconds
from django_schedules.models import Execution, SchedulerLease

from .conftest import NOW, interval_schedule


@pytest.mark.parametrize("value", ["0", "-1", "-0.0", "nan", "inf", "-inf", "soon", ""])
def test_it_rejects_seconds_that_are_not_a_finite_positive_number(value: str) -> None:
    with pytest.raises(ArgumentTypeError, match=re.escape(f"got {value!r}")):
        positive_seconds(value)


@pytest.mark.parametrize("value", ["0.001", "1", "2.5", "1e3"])
def test_it_accepts_positive_seconds(value: str) -> None:
    assert positive_seconds(value) == float(value)


@pytest.mark.parametrize("value", ["", "a b", "x" * 101, "é", "a/b", "default\n"])
def test_it_rejects_a_bad_group_name(value: str) -> None:
    with pytest.raises(ArgumentTypeError, match=re.escape(f"got {value!r}")):
        group_name(value)


def test_the_command_states_the_rule_for_a_bad_option() -> None:
    with pytest.raises(CommandError, match="must be a finite number greater than zero, got '0'"):
        call_command("runscheduler", "--poll-interval", "0")
    with pytest.raises(CommandError, match="got 'nan'"):
        call_command("runscheduler", "--lease-ttl", "nan")


@pytest.mark.django_db(transaction=True)
def test_once_fires_what_is_due_waits_for_it_and_exits(time_machine) -> None:
    time_machine.move_to(NOW, tick=True)
    interval_schedule("job", 3600, kwargs={"tag": "once"})
    interval_schedule("later", 3600, next_run_at=None)
    call_command("runscheduler", "--once", "--group", "cron-style", stdout=None)
    execution = Execution.objects.get()
    assert (execution.job_id, execution.status) == ("job", "succeeded")
    lease = SchedulerLease.objects.get(group="cron-style")
    assert lease.owner == "" and lease.epoch == 1  # released on the way out
