"""Private database servers for the restart case: a PostgreSQL cluster (``initdb`` and
``pg_ctl`` into a temporary directory) or a ``mariadbd`` with its own data directory, on a free
port, so restarting them disturbs nobody else's server. Root runs PostgreSQL as the
``postgres`` user and MariaDB with ``--user=root``.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO

from tests.polling import wait_until

DATABASE = "faults"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_listening(port: int, timeout: float, what: str) -> None:
    wait_until(
        lambda: _listening(port), timeout=timeout, message=f"{what} to listen on 127.0.0.1:{port}"
    )


class PrivateServer(ABC):
    """A database server of our own; `url` names its ``faults`` database."""

    vendor: str
    label: str

    def __init__(self) -> None:
        # Its own directory under the system's temporary one (pytest's are private to root,
        # and PostgreSQL runs as the postgres user).
        self.root = Path(tempfile.mkdtemp(prefix=f"schedules-faults-{self.vendor}-"))
        self.port = free_port()

    @classmethod
    @abstractmethod
    def missing(cls) -> str | None:
        """Why this server cannot be made here (its binaries are absent), or None."""

    @property
    @abstractmethod
    def url(self) -> str: ...

    @abstractmethod
    def create(self) -> None:
        """Initialise the data directory, start the server and create the database."""

    @abstractmethod
    def start(self) -> None:
        """Start the server; return once it accepts connections."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the server (fast: connections are cut); return once it is down."""

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, timeout=120, check=False)
    if done.returncode:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{output}")


class PrivatePostgres(PrivateServer):
    vendor, label = "postgresql", "PostgreSQL"

    @staticmethod
    def _bin(name: str) -> str | None:
        found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
        return found[-1]

    @classmethod
    def missing(cls) -> str | None:
        absent = [n for n in ("initdb", "pg_ctl") if cls._bin(n) is None]
        return f"PostgreSQL server binaries not installed: {', '.join(absent)}" if absent else None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _as_postgres(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        _run(command)

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        data = str(self.root / "data")
        self._as_postgres(str(self._bin("initdb")), "-D", data, "-U", "postgres", "-A", "trust")
        self.start()
        self._as_postgres(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-qc",
            f"CREATE DATABASE {DATABASE}",
        )  # fmt: skip

    def _pg_ctl(self, *args: str) -> None:
        self._as_postgres(str(self._bin("pg_ctl")), "-D", str(self.root / "data"), "-w", *args)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        self._pg_ctl("-l", str(self.root / "server.log"), "-o", options, "start")
        _wait_listening(self.port, 60, "PostgreSQL")

    def stop(self) -> None:
        if (self.root / "data" / "postmaster.pid").exists():
            self._pg_ctl("-m", "fast", "stop")


class PrivateMariaDB(PrivateServer):
    vendor, label = "mysql", "MariaDB"

    def __init__(self) -> None:
        super().__init__()
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    def missing(cls) -> str | None:
        absent = [n for n in ("mariadb-install-db", "mariadbd") if cls._which(n) is None]
        return f"MariaDB server binaries not installed: {', '.join(absent)}" if absent else None

    @staticmethod
    def _which(name: str) -> str | None:
        return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{DATABASE}"

    def create(self) -> None:
        _run(
            [
                str(self._which("mariadb-install-db")),
                "--no-defaults",
                f"--datadir={self.root / 'data'}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *(["--user=root"] if os.geteuid() == 0 else []),
            ]
        )
        self.start()
        _run(
            ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", str(self.port), "-u", "root",
             "-e", f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4"]
        )  # fmt: skip

    def start(self) -> None:
        self._log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(self._which("mariadbd")),
                "--no-defaults",
                f"--datadir={self.root / 'data'}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.root / 'mariadb.sock'}",
                f"--pid-file={self.root / 'mariadb.pid'}",
                "--skip-log-bin",
                *(["--user=root"] if os.geteuid() == 0 else []),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        _wait_listening(self.port, 60, "MariaDB")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # mariadbd's clean shutdown
            self.process.wait(60)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


SERVERS: dict[str, type[PrivateServer]] = {
    "postgresql": PrivatePostgres,
    "mysql": PrivateMariaDB,
}


def attach(alias: str, url: str) -> None:
    """Add a Django database alias for `url` to this process (the ORM then reads the private
    server with ``.using(alias)``); ``migrate`` it with the test settings' options."""
    import environ
    from django.db import connections

    config = environ.Env.db_url_config(url)
    if "mysql" in config["ENGINE"]:
        config.setdefault("OPTIONS", {})["charset"] = "utf8mb4"
    connections.settings[alias] = connections.configure_settings({"default": config})["default"]


def detach(alias: str) -> None:
    from django.db import connections

    connections[alias].close()
    del connections[alias]
    del connections.settings[alias]
