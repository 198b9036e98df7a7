"""Issue 8: a flaky database. Every statement of the scheduler process fails with probability
0.2, before it is sent or right after its COMMIT landed (the ambiguous commit); nothing is run
twice, nothing is lost, and the scheduler never exits. ``benchmarks/faults.py`` runs the full
length (100 schedules x 10 firings)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.cases import flaky_database

from .conftest import database_label

SEED = int(os.environ.get("FAULTS_SEED", "1"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_flaky_database_loses_nothing_and_runs_nothing_twice(tmp_path: Path) -> None:
    figures = flaky_database(
        tmp_path, database=database_label(), schedules=20, firings=5, rate=0.2, seed=SEED
    )
    detail = f"seed {SEED}: {figures.explain()}"
    assert figures.faults > 0, detail  # the faults really happened
    assert figures.notes["exit codes"] == [0], detail
    assert figures.duplicates == 0, detail
    assert figures.lost == 0, detail
    assert figures.runs > 0, detail
