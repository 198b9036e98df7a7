"""Run by test_signals.py in a fresh interpreter: runscheduler's signal handling.

``lock``: SIGTERM lands while the main thread holds the stop event's internal lock, as it does
for a moment each time ``Event.wait`` returns; the scheduler must still be told to stop.
``twice``: a second SIGTERM exits at once with status 1.
``early``: SIGTERM before ``run()``: the loop must return at once when it starts.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import django

django.setup()

from django_schedules.management.commands.runscheduler import StopOnSignal  # noqa: E402
from django_schedules.scheduler import Scheduler  # noqa: E402


def main(mode: str) -> int:
    scheduler = Scheduler(poll_interval=0.1)
    StopOnSignal(scheduler).install()
    if mode == "lock":
        with scheduler._stop._cond:  # type: ignore[attr-defined]  # Event's own lock
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10_000):  # the handler runs here, between two bytecodes
                pass
    else:
        os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + 30
    while not scheduler.stopping and time.monotonic() < deadline:
        time.sleep(0.01)
    print("stopping" if scheduler.stopping else "not stopping", flush=True)  # noqa: T201
    if mode == "early":
        scheduler.run()
        print("run returned", flush=True)  # noqa: T201
    if mode == "twice":
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
        print("still running after the second signal", flush=True)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
