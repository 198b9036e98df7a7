"""Real processes for tests: a `manage.py` command run against the test database."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from django.db import connections

from tests.databases import database_url

REPO_ROOT = Path(__file__).resolve().parent.parent


def command_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]),
            "PYTHONUNBUFFERED": "1",
            "PYTHONFAULTHANDLER": "1",  # stacks_of() below
        }
    )
    env.update(extra)
    return env


def stacks_of(process: subprocess.Popen[bytes], output: Callable[[], str]) -> str:
    """End a process that would not stop and return its output with every thread's stack.

    The processes run with PYTHONFAULTHANDLER=1, so SIGABRT makes Python print each thread's
    traceback to stderr (the output file) before it dies: a test that waited in vain for a
    process to exit then says where it was stuck, not only that it was.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGABRT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return output()


class Signallable(Protocol):
    @property
    def pid(self) -> int: ...

    def signal(self, signum: int) -> None: ...


def freeze(proc: Signallable, timeout: float = 300) -> int:
    """SIGSTOP `proc`; return the tries it took. On SQLite, only where it holds no lock (a
    process frozen holding SQLite's file lock freezes every writer, which no application can
    help): under load the leader is often inside a write, so retry, at random moments, until a
    write from outside goes through."""
    database = connections["default"]
    deadline = time.monotonic() + timeout
    tries = 0
    while True:
        tries += 1
        proc.signal(signal.SIGSTOP)
        if database.vendor != "sqlite" or _sqlite_writable(database.settings_dict["NAME"]):
            return tries
        proc.signal(signal.SIGCONT)
        if time.monotonic() > deadline:
            raise AssertionError(f"could not stop pid {proc.pid} outside an SQLite transaction")
        time.sleep(random.uniform(0, 0.05))


def _sqlite_writable(path: str) -> bool:
    probe = sqlite3.connect(path, timeout=0.5)
    try:
        probe.execute("CREATE TABLE IF NOT EXISTS kills_probe (x INTEGER)")
        probe.execute("INSERT INTO kills_probe VALUES (1)")
        probe.commit()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


class ManageCommand:
    """Run `python -m django <args>` in the background with its output in a temporary file.

    Used as a context manager: on exit the process gets SIGTERM, then, after `grace` seconds,
    SIGABRT (its threads' stacks go to its output, see stacks_of), and its output file is
    closed.
    """

    def __init__(
        self, *args: str, grace: float = 15.0, new_session: bool = False, **env: str
    ) -> None:
        self.args = [sys.executable, "-m", "django", *args]
        self.env = command_env(**env)
        self.grace = grace
        self.new_session = new_session  # its own process group, for os.killpg
        self.log: IO[str] = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in __exit__)
            "w+", prefix="schedules-", suffix=".log", delete=False
        )
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ManageCommand:
        self.process = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=REPO_ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=self.new_session,
        )
        return self

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(self.grace)
            except subprocess.TimeoutExpired:
                stacks_of(self.process, self.output)  # into the output: where it was stuck
        return self.process.returncode

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self.log.close()
        os.unlink(self.log.name)
