"""A row naming a callable that is not registered is never imported and never run.

The rows are written behind the API's back (``QuerySet.update`` and raw SQL), as an attacker
with write access to the table, or a stale deploy, would. A real ``runscheduler --once``
process and ``run_job_now`` both refuse them; each refusal is recorded with its reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

import django_schedules
from django_schedules.exceptions import JobNotRegistered
from django_schedules.models import Execution, ExecutionKind, ExecutionStatus, Schedule
from django_schedules.triggers import IntervalTrigger
from tests.processes import REPO_ROOT, ManageCommand, command_env

TARGET = "tests.security.unregistered_target"
NOW = datetime.now(UTC).replace(microsecond=0)


def hostile_callables(mark: Path) -> dict[str, tuple[str, list[object]]]:
    """job id -> (callable name, args): each would leave `mark` behind if it ran."""
    return {
        "os-system": ("os.system", [f"touch {mark}"]),
        "subprocess-call": ("subprocess.call", [["touch", str(mark)]]),
        "builtins-eval": ("builtins.eval", [f"open({str(mark)!r}, 'w')"]),
        "posix-system": ("posix.system", [f"touch {mark}"]),
        "dotted-path": (f"{TARGET}.payload", []),
        "colon-path": (f"{TARGET}:payload", []),
    }


def write_behind_the_apis_back(job_id: str, func: str, args: list[object]) -> Schedule:
    """A registered, harmless schedule, then its callable swapped by a bare UPDATE."""
    trigger = IntervalTrigger(hours=1, start_date=NOW - timedelta(seconds=5))
    schedule = Schedule.objects.create(
        job_id=job_id,
        func="tests.testapp.jobs.noop",
        trigger=trigger.to_dict(),
        trigger_kind="interval",
        next_run_at=NOW - timedelta(seconds=5),
    )
    Schedule.objects.filter(pk=schedule.pk).update(func=func, args=args)
    return schedule


def test_the_probe_module_does_mark_an_import(tmp_path: Path) -> None:
    # The control: were the scheduler to import the module, the test below would see it.
    probe = tmp_path / "probe"
    code = f"import {TARGET} as m; m.payload()"
    subprocess.run(
        [sys.executable, "-c", code],
        env=command_env(SCHEDULES_IMPORT_PROBE=str(probe)),
        cwd=REPO_ROOT,
        check=True,
        timeout=60,
    )
    assert probe.read_text() == "imported\nran\n"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_runscheduler_refuses_every_unregistered_callable(tmp_path: Path) -> None:
    mark, probe = tmp_path / "ran", tmp_path / "imported"
    schedules = {
        job_id: write_behind_the_apis_back(job_id, func, args)
        for job_id, (func, args) in hostile_callables(mark).items()
    }
    # A pending manual run written with raw SQL, naming os.system.
    manual = write_behind_the_apis_back("manual", "os.system", [f"touch {mark}"])
    Schedule.objects.filter(pk=manual.pk).update(next_run_at=None)
    table = connection.ops.quote_name(Execution._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (schedule_id, job_id, name, func, args, kwargs, fire_time, "  # noqa: S608 - the table name is ours
            "run_at, kind, status, reason, attempt, executor, created_at, worker, result, "
            "traceback) "
            "VALUES (%s, %s, '', %s, %s, '{}', %s, %s, %s, %s, '', 1, 'default', %s, '', '', '')",
            [manual.pk, "manual", "os.system", json.dumps([f"touch {mark}"]), NOW, NOW,
             ExecutionKind.MANUAL, ExecutionStatus.PENDING, NOW],
        )  # fmt: skip

    with ManageCommand("runscheduler", "--once", SCHEDULES_IMPORT_PROBE=str(probe)) as command:
        assert command.process is not None
        command.process.wait(timeout=120)
        output = command.output()
    assert command.process.returncode == 0, output

    assert not mark.exists(), "a hostile callable ran"
    assert not probe.exists(), f"{TARGET} was imported"
    for job_id, schedule in [*schedules.items(), ("manual", manual)]:
        execution = Execution.objects.get(schedule=schedule)
        func = Schedule.objects.get(pk=schedule.pk).func
        assert execution.status == ExecutionStatus.FAILED, (job_id, execution.status)
        assert execution.reason == f"callable not registered: {func!r}", execution.reason


@pytest.mark.django_db
def test_run_job_now_refuses_an_unregistered_callable_and_records_nothing() -> None:
    for job_id, (func, args) in hostile_callables(Path("/nonexistent/mark")).items():
        write_behind_the_apis_back(job_id, func, args)
        # APScheduler's "module:function" is read as "module.function".
        named = re.escape(repr(func.replace(":", ".")))
        with pytest.raises(JobNotRegistered, match=f"{named} is not registered"):
            django_schedules.run_job_now(job_id)
    assert not Execution.objects.exists()
    assert TARGET not in sys.modules
