from __future__ import annotations

from argparse import ArgumentTypeError
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from django_schedules.management.commands.pruneexecutions import age
from django_schedules.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def executions(count: int, created: datetime, status: str = ExecutionStatus.SUCCEEDED) -> None:
    with time_machine.travel(created, tick=False):
        Execution.objects.bulk_create(
            Execution(job_id="j", fire_time=created + timedelta(seconds=i), status=status)
            for i in range(count)
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("45m", timedelta(minutes=45)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
    ],
)
def test_it_reads_each_unit(text: str, expected: timedelta) -> None:
    assert age(text) == expected


@pytest.mark.parametrize("text", ["0d", "30", "d", "-1d", "1w", "1.5h", ""])
def test_it_rejects_an_age_without_a_positive_whole_number_and_unit(text: str) -> None:
    with pytest.raises(ArgumentTypeError, match=f"got {text!r}"):
        age(text)


def test_it_deletes_old_finished_executions_in_batches() -> None:
    executions(25, NOW - timedelta(days=40))
    executions(3, NOW - timedelta(days=40), status=ExecutionStatus.RUNNING)
    executions(5, NOW - timedelta(days=1))
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command(
            "pruneexecutions", "--older-than", "30d", "--batch-size", "10", "-v", "2", stdout=out
        )
    assert "Deleted 25 execution(s)" in out.getvalue()
    assert "deleted 10 so far" in out.getvalue() and "deleted 20 so far" in out.getvalue()
    assert Execution.objects.count() == 8
    assert Execution.objects.filter(status=ExecutionStatus.RUNNING).count() == 3


def test_a_dry_run_deletes_nothing() -> None:
    executions(4, NOW - timedelta(days=40))
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("pruneexecutions", "--older-than", "30d", "--dry-run", stdout=out)
    assert "Would delete 4" in out.getvalue()
    assert Execution.objects.count() == 4


def test_a_bad_age_is_a_command_error() -> None:
    with pytest.raises(CommandError, match="got '30'"):
        call_command("pruneexecutions", "--older-than", "30")
