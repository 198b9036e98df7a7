from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from tests.faults.servers import SERVERS, PrivateServer, attach, detach
from tests.processes import REPO_ROOT, command_env

PRIVATE = "faults_private"  # the Django alias of the private server in the test process


def database_label() -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}[connection.vendor]


@pytest.fixture(scope="session")
def private_server(django_db_blocker: Any) -> Iterator[PrivateServer]:
    """A private server of this run's kind (PostgreSQL or MariaDB), migrated, with the alias
    PRIVATE; torn down at the end. Restarting it disturbs nobody else's database."""
    if connection.vendor not in SERVERS:
        pytest.skip(f"a server restart: this run's database is {database_label()}, no server")
    kind = SERVERS[connection.vendor]
    why = kind.missing()
    if why:
        pytest.skip(why)
    server = kind()
    try:
        server.create()
        # In its own process: a third-party data migration reads the default alias.
        migrate = [sys.executable, "-m", "django", "migrate", "--verbosity", "0"]
        env = command_env(DATABASE_URL=server.url)
        subprocess.run(migrate, env=env, cwd=REPO_ROOT, check=True, timeout=300)
        attach(PRIVATE, server.url)
        try:
            yield server
        finally:
            with django_db_blocker.unblock():
                detach(PRIVATE)
    finally:
        server.destroy()
