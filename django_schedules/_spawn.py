"""Entry points for the process pool's spawned workers.

A spawned child imports the module of each function it is handed before Django is set up, so
this module imports nothing from Django or the app at import time.
"""

from __future__ import annotations


def init_worker() -> None:
    """Set Django up in a fresh worker (settings from DJANGO_SETTINGS_MODULE, inherited)."""
    import django

    django.setup()  # apps.ready autodiscovers each installed app's jobs.py


def run(execution_id: int, epoch: int | None, using: str) -> str:
    from django.db import connections

    from django_schedules.executors import run_execution_now

    try:
        return run_execution_now(execution_id, epoch, using)
    finally:
        connections.close_all()
