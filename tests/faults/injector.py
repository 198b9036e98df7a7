"""A flaky database, for the fault tests: ``OperationalError`` with a given probability before a
statement, and right after a COMMIT was sent (the ambiguous commit: it landed, the caller is
told it failed).

Installed in a ``runscheduler`` process by ``tests.faults.settings`` when ``FAULTS_RATE`` is
set; never in the test process. Each connection draws from its own ``random.Random`` seeded
with ``FAULTS_SEED``, its thread's name and how many connections that thread opened before, so
a run with the same seed faults the same statements of each thread again. Each fault is
appended to ``FAULTS_LOG`` as one line: ``<kind>\t<thread>\t<statement>``.

Faults start with the first statement on the lease table, that is once the loop runs: the
command's start-up (migrations check, the SCHEDULES_JOBS sync) is not the subject here.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import OperationalError

LEASE_TABLE = "django_schedules_schedulerlease"
BEFORE, AFTER_COMMIT = "before-statement", "after-commit"


class FaultInjector:
    """Raises OperationalError with probability `rate` on the connections it is installed on."""

    def __init__(self, rate: float, seed: int, log: Path | None = None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"FAULTS_RATE must be between 0 and 1, got {rate!r}")
        self.rate = rate
        self.seed = seed
        self.log = log
        self.armed = False
        self._lock = threading.Lock()
        self._connections: Counter[str] = Counter()

    def install(self, connection: BaseDatabaseWrapper) -> None:
        """Wrap `connection` (a Django DatabaseWrapper, once per new database connection)."""
        thread = threading.current_thread().name
        with self._lock:
            opened = self._connections[thread]
            self._connections[thread] += 1
        rng = random.Random(f"{self.seed}/{thread}/{connection.alias}/{opened}")
        # One wrapper per DatabaseWrapper: it outlives its database connections.
        connection.execute_wrappers[:] = [
            w for w in connection.execute_wrappers if not isinstance(w, _BeforeStatement)
        ]
        connection.execute_wrappers.append(_BeforeStatement(self, rng))
        commit = type(connection)._commit

        def faulty_commit() -> None:
            commit(connection)  # the COMMIT is sent and lands...
            if self._draw(rng):  # ...and the caller is told it failed
                self._fault(AFTER_COMMIT, "COMMIT")

        connection._commit = faulty_commit  # type: ignore[method-assign]

    def _draw(self, rng: random.Random) -> bool:
        return self.armed and rng.random() < self.rate

    def _fault(self, kind: str, sql: str) -> None:
        if self.log is not None:
            line = f"{kind}\t{threading.current_thread().name}\t{' '.join(sql.split())[:80]}\n"
            with self._lock, self.log.open("a") as out:
                out.write(line)
        raise OperationalError(f"injected fault ({kind}): {sql[:60]}")


class _BeforeStatement:
    """The execute wrapper: the statement is never sent when it faults."""

    def __init__(self, injector: FaultInjector, rng: random.Random) -> None:
        self.injector = injector
        self.rng = rng

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if not self.injector.armed and LEASE_TABLE in sql:
            self.injector.armed = True
        if self.injector._draw(self.rng):
            self.injector._fault(BEFORE, sql)
        return execute(sql, params, many, context)


def from_environment() -> FaultInjector | None:
    """The injector ``FAULTS_RATE``, ``FAULTS_SEED`` and ``FAULTS_LOG`` describe, if any."""
    rate = os.environ.get("FAULTS_RATE")
    if not rate:
        return None
    log = os.environ.get("FAULTS_LOG")
    return FaultInjector(
        float(rate), int(os.environ.get("FAULTS_SEED", "0")), Path(log) if log else None
    )


def count_faults(log: Path) -> Counter[str]:
    """Faults injected, by kind, from a FAULTS_LOG file."""
    if not log.exists():
        return Counter()
    return Counter(line.split("\t", 1)[0] for line in log.read_text().splitlines() if line)
