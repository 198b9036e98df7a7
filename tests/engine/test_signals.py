"""Stopping: runscheduler's SIGTERM/SIGINT handling, in a fresh interpreter each
(signal_probe.py), and a stop that comes before the loop runs or while ``--once`` waits."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from django_schedules.executors import ThreadPoolExecutor
from django_schedules.models import Execution
from django_schedules.scheduler import Scheduler
from tests.polling import wait_until
from tests.processes import REPO_ROOT, command_env, stacks_of

from . import jobs
from .conftest import interval_schedule

PROBE = Path(__file__).with_name("signal_probe.py")


def probe(mode: str, tmp_path: Path) -> tuple[int, str]:
    """Run the probe; return its exit status and output (with its stacks, had it hung)."""
    log = tmp_path / f"{mode}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(PROBE), mode],
            cwd=REPO_ROOT,
            env=command_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            return process.wait(90), log.read_text()
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the probe ({mode}) hung:\n" + stacks_of(process, log.read_text)
            ) from None


@pytest.mark.django_db(transaction=True)
def test_a_signal_landing_while_the_stop_events_lock_is_held_still_stops_the_loop(
    tmp_path: Path,
) -> None:
    # The main thread holds that lock for a moment each time Event.wait returns; a handler
    # that called Event.set() itself would wait on it for ever (a CI run saw one never exit).
    status, output = probe("lock", tmp_path)
    assert (status, output.strip()) == (0, "stopping"), output


@pytest.mark.django_db(transaction=True)
def test_a_second_signal_exits_at_once_with_status_1(tmp_path: Path) -> None:
    status, output = probe("twice", tmp_path)
    assert (status, output.strip()) == (1, "stopping"), output


@pytest.mark.django_db(transaction=True)
def test_a_sigterm_before_the_loop_runs_stops_it_when_it_starts(tmp_path: Path) -> None:
    # A signal while runscheduler is still starting (Django set-up, syncing SCHEDULES_JOBS).
    status, output = probe("early", tmp_path)
    assert (status, output.strip()) == (0, "stopping\nrun returned"), output


def run_in_thread(scheduler: Scheduler, *, once: bool) -> threading.Thread:
    thread = threading.Thread(target=scheduler.run, kwargs={"once": once}, daemon=True)
    thread.start()
    return thread


def stopped_within(thread: threading.Thread, scheduler: Scheduler, seconds: float) -> bool:
    thread.join(seconds)
    if thread.is_alive():  # do not leave it running into the next test
        scheduler.stop()
        jobs.RELEASE.set()
        thread.join(60)
        return False
    return True


@pytest.mark.django_db(transaction=True)
def test_a_stop_before_run_makes_it_return_without_firing_and_is_then_forgotten() -> None:
    now = datetime.now(UTC)
    interval_schedule("due", 3600, next_run_at=now, start=now)
    scheduler = Scheduler(poll_interval=0.05, lookahead=0.0)
    scheduler.stop()
    thread = run_in_thread(scheduler, once=False)
    assert stopped_within(thread, scheduler, 30), "run() ignored a stop that came before it"
    assert not Execution.objects.exists()
    scheduler.run(once=True)  # the stop is spent: it runs again
    assert list(Execution.objects.values_list("job_id", "status")) == [("due", "succeeded")]


@pytest.mark.django_db(transaction=True)
def test_a_stop_while_once_waits_gives_its_runs_the_grace_then_records_them_lost() -> None:
    now = datetime.now(UTC)
    interval_schedule("slow", 3600, func="engine.block", kwargs={"seconds": 120.0},
                      next_run_at=now, start=now)  # fmt: skip
    pool = ThreadPoolExecutor("default", {}, using="default")
    scheduler = Scheduler(
        poll_interval=0.05, lookahead=0.0, shutdown_grace=0.5, executors={"default": pool}
    )
    thread = run_in_thread(scheduler, once=True)
    try:
        wait_until(
            Execution.objects.filter(status="running").exists,
            timeout=60,
            message="the run to start",
        )
        scheduler.stop()
        # Its job runs for 120 s: --once used to wait for it whatever the signal said.
        assert stopped_within(thread, scheduler, 60), "--once ignored the stop"
        execution = Execution.objects.get()
        assert (execution.status, execution.reason) == (
            "lost",
            "the scheduler shut down before it finished",
        )
    finally:
        jobs.RELEASE.set()
