"""A backfill through faults (issue 18): a statement that fails anywhere in it, or a COMMIT
that lands while its caller is told it failed, leaves the backfill whole or not at all; doing
it again then ends with one Execution per occurrence and each re-run attempted once."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import OperationalError, connections

from django_schedules import add_job, backfill_job, store
from django_schedules.models import Execution, ExecutionStatus, Schedule
from tests.databases import snapshot
from tests.testapp import jobs

pytestmark = pytest.mark.django_db(transaction=True)

DAY = datetime(2026, 1, 1, tzinfo=UTC)
END = DAY + timedelta(hours=4)


def setup() -> None:
    """A schedule with four past occurrences: the second recorded missed, the third ran."""
    Execution.objects.all().delete()
    Schedule.objects.all().delete()
    add_job(jobs.noop, "interval", hours=1, start_date=DAY, id="hourly")
    schedule = Schedule.objects.get(job_id="hourly")
    for hour, status in ((1, ExecutionStatus.MISSED), (2, ExecutionStatus.SUCCEEDED)):
        Execution.objects.create(
            schedule=schedule,
            job_id="hourly",
            func=schedule.func,
            fire_time=DAY + timedelta(hours=hour),
            status=status,
        )


def final_state() -> list[tuple[datetime, str, int]]:
    rows = Execution.objects.order_by("fire_time").values_list("fire_time", "status", "attempt")
    return list(rows)


EXPECTED = [
    (DAY, ExecutionStatus.PENDING, 1),
    (DAY + timedelta(hours=1), ExecutionStatus.PENDING, 2),  # the missed one: attempt 2, once
    (DAY + timedelta(hours=2), ExecutionStatus.SUCCEEDED, 1),
    (DAY + timedelta(hours=3), ExecutionStatus.PENDING, 1),
]


def statements_of_a_backfill() -> int:
    """How many statements a clean backfill sends (the COMMIT aside: not a statement)."""
    setup()
    sent: list[str] = []

    def count(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        sent.append(sql)
        return execute(sql, *args)

    with connections[store.database_alias()].execute_wrapper(count):
        backfill_job("hourly", DAY, END)
    assert final_state() == EXPECTED
    return len(sent)


@contextmanager
def fault_at_statement(n: int) -> Iterator[None]:
    count = itertools.count(1)

    def wrapper(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        if next(count) == n:
            raise OperationalError(f"injected fault before statement {n}: {sql[:40]}")
        return execute(sql, *args)

    with connections[store.database_alias()].execute_wrapper(wrapper):
        yield


@contextmanager
def commit_lands_but_fails() -> Iterator[None]:
    wrapper = connections[store.database_alias()]
    commit = type(wrapper)._commit

    def faulty_commit() -> None:
        commit(wrapper)  # the COMMIT is sent and lands...
        raise OperationalError("injected fault after COMMIT")  # ...and the caller is told not

    wrapper._commit = faulty_commit  # type: ignore[method-assign]
    try:
        yield
    finally:
        del wrapper._commit


def check_whole_or_nothing_then_again(before: Any) -> None:
    assert final_state() in (EXPECTED, _rows(before))
    result = backfill_job("hourly", DAY, END)  # the operator tries again
    assert final_state() == EXPECTED
    assert result.created + result.retried + result.left_alone == 4


def _rows(before: Any) -> list[tuple[datetime, str, int]]:
    return sorted((r["fire_time"], r["status"], r["attempt"]) for r in before[1])


def test_a_fault_at_any_statement_leaves_all_or_nothing_and_a_retry_completes_it() -> None:
    total = statements_of_a_backfill()
    assert total >= 3
    for n in range(1, total + 1):
        setup()
        before = snapshot()
        with pytest.raises(OperationalError, match="injected fault"), fault_at_statement(n):
            backfill_job("hourly", DAY, END)
        check_whole_or_nothing_then_again(before)


def test_a_commit_that_lands_but_reports_a_failure_is_not_done_twice() -> None:
    setup()
    before = snapshot()
    with pytest.raises(OperationalError, match="after COMMIT"), commit_lands_but_fails():
        backfill_job("hourly", DAY, END)
    assert final_state() == EXPECTED  # it landed
    check_whole_or_nothing_then_again(before)
