"""Entry points for the process pool's spawned workers.

A spawned child imports the module of each function it is handed before Django is set up, so
this module imports nothing from Django or the app at import time.
"""

from __future__ import annotations

import time
from typing import Any


def init_worker() -> None:
    """Set Django up in a fresh worker (settings from DJANGO_SETTINGS_MODULE, inherited)."""
    import django

    django.setup()  # apps.ready autodiscovers each installed app's jobs.py


def _ignore(signum: int, frame: Any) -> None:
    """A handler that does nothing (see worker_main)."""


def worker_main(conn: Any) -> None:
    """A process-pool worker: set Django up, then run the executions sent down `conn` one at a
    time, answering ``(execution_id, error)`` after each; ``None`` tells it to exit.

    SIGINT and SIGTERM do nothing here: Ctrl-C reaches the whole foreground process group, and
    systemd's default ``KillMode=control-group`` sends SIGTERM to every process of the
    service, so without this a job in a worker died at once instead of getting the
    scheduler's ``SCHEDULES_SHUTDOWN_GRACE``. The scheduler ends its workers itself (``None``
    down the pipe, or SIGKILL past the grace). A handler rather than ``SIG_IGN``, which a
    process the job starts would inherit.
    """
    import signal

    signal.signal(signal.SIGINT, _ignore)
    signal.signal(signal.SIGTERM, _ignore)
    init_worker()
    from django.db import connections

    from django_schedules.runner import run_execution_now

    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return  # the scheduler went away
            if message is None:
                return
            execution_id, epoch, using, delay, trace = message
            error = ""
            try:
                # Started `delay` seconds from now, as the pool was told: never early.
                run_execution_now(execution_id, epoch, using, time.monotonic() + delay, trace=trace)
            except BaseException as exc:  # report it; the next run gets a fresh connection
                error = repr(exc)
                connections.close_all()
            else:
                # The connection is kept for the next run (a new one per run capped the pool
                # at a few dozen runs a second); one the job left unusable is dropped.
                for connection in connections.all(initialized_only=True):
                    if connection.in_atomic_block or not connection.is_usable():
                        connection.close()
            try:
                conn.send((execution_id, error))
            except OSError:  # BrokenPipeError: the scheduler was killed while the job ran
                return
    finally:
        conn.close()
