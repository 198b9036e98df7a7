"""``runscheduler`` sets SQLite's ``synchronous`` on its own connections (issue 16): NORMAL by
default under WAL, where a commit still survives a crash of the process; nothing changes in a
rollback-journal mode, where NORMAL could corrupt the file on a power cut."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db.backends.sqlite3.base import DatabaseWrapper

from django_schedules.store import sqlite_synchronous

# Only for the blocker of pytest-django: these tests open connections of their own.
pytestmark = pytest.mark.django_db

# PRAGMA synchronous reads back as a number.
LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def sqlite_file(path: Path, journal: str) -> DatabaseWrapper:
    """A connection wrapper of its own to a SQLite file in `journal` mode, named like the
    app's alias (the hook recognises connections by alias)."""
    wrapper = DatabaseWrapper(
        {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            "OPTIONS": {},
            "TIME_ZONE": None,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
            "TEST": {},
        },
        alias="schedules-durability",
    )
    with wrapper.cursor() as cursor:
        cursor.execute(f"PRAGMA journal_mode = {journal}")
    wrapper.close()
    return wrapper


def synchronous(wrapper: DatabaseWrapper) -> str:
    with wrapper.cursor() as cursor:  # a new connection: the hook runs first
        cursor.execute("PRAGMA synchronous")
        return LEVELS[cursor.fetchone()[0]]


@pytest.mark.parametrize(
    ("journal", "level", "expected"),
    [("wal", "NORMAL", "NORMAL"), ("wal", "FULL", "FULL"), ("delete", "NORMAL", "FULL")],
)
def test_new_connections_get_the_level_only_under_wal(
    tmp_path: Path, journal: str, level: str, expected: str
) -> None:
    wrapper = sqlite_file(tmp_path / "db.sqlite3", journal)
    stop = sqlite_synchronous("schedules-durability", level)
    try:
        assert synchronous(wrapper) == expected
    finally:
        stop()
        wrapper.close()
    # Stopped: a later connection keeps SQLite's default.
    assert synchronous(wrapper) == "FULL"
    wrapper.close()


def test_a_level_that_is_not_a_durable_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"SCHEDULES_SQLITE_SYNCHRONOUS must be one of .*'OFF'"):
        sqlite_synchronous("default", "OFF")
