"""A BackgroundScheduler in each of several gunicorn worker processes fires each occurrence
once (django-apscheduler#156: one APScheduler per worker runs every job once per worker)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connections

from django_schedules import api
from django_schedules.models import Execution, SchedulerProcess
from django_schedules.triggers import IntervalTrigger
from tests.databases import database_url
from tests.polling import wait_until
from tests.schedulers import jobs

pytest.importorskip("gunicorn")
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
SECONDS = 6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def count(model: type[SchedulerProcess] | type[Execution], **filters: object) -> int:
    try:
        return model.objects.filter(**filters).count()
    finally:
        connections.close_all()


def test_a_background_scheduler_in_each_gunicorn_worker_fires_each_occurrence_once(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--config",
            str(Path(__file__).with_name("gunicorn_conf.py")),
            "tests.schedulers.wsgi_app:application",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stamps = tmp_path / "stamps.txt"
    try:
        # Every worker runs a scheduler: each reports itself in the group.
        wait_until(
            lambda: count(SchedulerProcess, group="default") == WORKERS,
            timeout=120,
            message=f"{WORKERS} scheduler processes",
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
            assert int(response.read()) != os.getpid()  # a worker answered
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        trigger = IntervalTrigger(
            seconds=1, start_date=start, end_date=start + timedelta(seconds=SECONDS)
        )
        api.add_job(jobs.stamp, trigger, args=[str(stamps)], id="stamp", max_instances=5)
        expected = [fire.astimezone(UTC) for fire in trigger.fire_times(start, SECONDS + 5)]
        assert len(expected) == SECONDS + 1
        wait_until(
            lambda: count(Execution, job_id="stamp", status="succeeded") == len(expected),
            timeout=SECONDS + 90,
            message=f"{len(expected)} runs",
        )
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=120)
    assert server.returncode == 0, output
    lines = stamps.read_text().splitlines()
    fired = [datetime.fromisoformat(line.split()[0]) for line in lines]
    assert sorted(fired) == expected  # each occurrence once: none twice, none missing
    assert sorted(Execution.objects.values_list("fire_time", flat=True)) == expected
    assert count(SchedulerProcess) == 0  # each worker shut its scheduler down on exit
