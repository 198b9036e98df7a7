"""Pruning deletes in short batches: each DELETE names at most a batch of rows, in its own
transaction, so no lock is held over the whole table (benchmarks/scale.py times the batches
at a million rows while a scheduler claims)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection

from django_schedules import store
from django_schedules.models import Execution, ExecutionStatus

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
IN_LIST = re.compile(r"\bIN \(([^()]*)\)")


def executions(count: int, created: datetime, status: str = ExecutionStatus.SUCCEEDED) -> None:
    with time_machine.travel(created, tick=False):
        Execution.objects.bulk_create(
            Execution(job_id="j", fire_time=created + timedelta(seconds=i), status=status)
            for i in range(count)
        )


class Recorder:
    """Every statement run, and each COMMIT with the statements since the one before."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.transactions: list[list[str]] = []
        self._open: list[str] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements.append(sql % tuple(params or ()) if params else sql)
        self._open.append(self.statements[-1])
        return execute(sql, params, many, context)

    def committed(self) -> None:
        self.transactions.append(self._open)
        self._open = []


def test_it_deletes_at_most_a_batch_per_statement_each_in_its_own_transaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    executions(35, NOW - timedelta(days=40))
    executions(4, NOW - timedelta(days=40), status=ExecutionStatus.RUNNING)
    executions(6, NOW - timedelta(days=1))
    recorder = Recorder()
    commit = connection.commit

    def counting_commit() -> None:
        commit()
        recorder.committed()

    monkeypatch.setattr(connection, "commit", counting_commit)
    with connection.execute_wrapper(recorder):
        batches = list(store.prune_executions(NOW - timedelta(days=30), batch_size=10))
    assert batches == [10, 10, 10, 5]
    deletes = [s for s in recorder.statements if s.lstrip().upper().startswith("DELETE")]
    assert len(deletes) == 4
    for delete in deletes:
        # Only by primary keys, never a DELETE ... WHERE created_at < ... over the table.
        assert "created_at" not in delete
        ids = IN_LIST.search(delete)
        assert ids is not None, delete
        assert 1 <= len(ids.group(1).split(",")) <= 10
    # Each DELETE committed on its own (no transaction holds two batches' locks).
    with_deletes = [t for t in recorder.transactions if any(s in deletes for s in t)]
    assert [sum(s in deletes for s in t) for t in with_deletes] == [1, 1, 1, 1]
    # Each batch's rows were found with a LIMIT of the batch size; each search after the
    # first starts where the last batch ended, not at the oldest (already deleted) rows.
    selects = [s for s in recorder.statements if "LIMIT 10" in s and s.startswith("SELECT")]
    assert len(selects) == 4
    assert '"created_at" >=' not in selects[0].replace("`", '"')
    assert all('"created_at" >=' in s.replace("`", '"') for s in selects[1:])
    assert Execution.objects.count() == 10
    assert Execution.objects.filter(status=ExecutionStatus.RUNNING).count() == 4
