"""Issue 8: a long write transaction holds the lock for 10 seconds in the middle of a run (on
SQLite the file's write lock, beyond the scheduler's 5 s busy timeout; on PostgreSQL and
MariaDB the lease row and every schedule row). The scheduler waits and carries on: no
"database is locked" in its log, nothing duplicated or lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.cases import LOCKED, held_write_lock

from .conftest import database_label


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_write_lock_held_for_ten_seconds_delays_but_loses_nothing(tmp_path: Path) -> None:
    figures = held_write_lock(tmp_path, database=database_label(), schedules=10, firings=14)
    detail = figures.explain()
    assert figures.notes["exit codes"] == [0], detail
    assert figures.notes["settled"], detail
    assert figures.duplicates == 0, detail
    assert figures.lost == 0, detail
    assert figures.runs > 0, detail
    assert figures.notes["latest start (s)"] >= 5, detail  # the lock did hold the runs up
    assert [out for out in figures.notes["outputs"] if LOCKED in out] == [], detail
