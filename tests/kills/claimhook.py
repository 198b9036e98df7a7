"""A hook that stops a `runscheduler` process in the middle of its claim transaction, so a test
can SIGKILL it exactly there.

``install(directory)`` (from tests/kills/settings.py) adds an execute wrapper to every database
connection of the process. When a test writes a point's name ("update" or "insert") to
``<directory>/armed``, the first process to run that statement of a claim, inside its
transaction, renames the file to ``paused-<pid>`` (atomic: only one process wins) and waits
with the transaction open for the test's SIGKILL, or for ``<directory>/release-<pid>``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

# The claim's statements (django_schedules/store/dialects.py), the only ones a scheduler runs
# on these tables inside a transaction: the conditional UPDATE that moves the batch of
# schedules on (its SQL differs by database), and the bulk INSERT of their executions.
POINTS = {
    "update": re.compile(r'UPDATE [`"]django_schedules_schedule[`"] '),
    "insert": re.compile(r'INSERT INTO [`"]django_schedules_execution[`"]'),
}


class PauseInClaim:
    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not context["connection"].in_atomic_block:
            return result
        armed = self.directory / "armed"
        try:
            point = armed.read_text()
        except FileNotFoundError:
            return result
        if point not in POINTS or not POINTS[point].match(sql):
            return result
        paused = self.directory / f"paused-{os.getpid()}"
        try:
            os.rename(armed, paused)
        except FileNotFoundError:
            return result  # another process got there first
        paused.write_text(f"{point}: {sql[:120]}")
        # The statement ran, its transaction is open: SIGKILL or SIGSTOP comes here. A test
        # that lets the process go on writes ``release-<pid>``.
        release = self.directory / f"release-{os.getpid()}"
        deadline = time.monotonic() + 600
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return result


def install(directory: str) -> None:
    from django.db.backends.signals import connection_created

    hook = PauseInClaim(directory)

    def add(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
        if not any(isinstance(w, PauseInClaim) for w in connection.execute_wrappers):
            connection.execute_wrappers.append(hook)

    connection_created.connect(add, weak=False)
