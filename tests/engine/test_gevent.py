from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import database_url

pytest.importorskip("gevent")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_background_scheduler_runs_under_gevent_monkey_patching() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("gevent_probe.py"))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "result 3" in done.stdout
