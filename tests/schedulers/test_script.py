"""The seed's BlockingScheduler example runs as a script: a `date` run_date and a string one,
its job defined in `__main__` and run in that process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from django_schedules.models import Execution, Schedule
from tests.databases import database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def test_apschedulers_blocking_example_runs_with_the_import_changed() -> None:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("script_example.py"))],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['more text', 'text']"
    assert set(Schedule.objects.values_list("func", flat=True)) == {"__main__.my_job"}
    assert sorted(Execution.objects.values_list("status", "result")) == [
        ("succeeded", "'more text'"),
        ("succeeded", "'text'"),
    ]
