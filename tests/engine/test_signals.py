"""runscheduler's SIGTERM/SIGINT handling, in a fresh interpreter each (signal_probe.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import REPO_ROOT, command_env, stacks_of

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
