"""One claim: the store's claim steps composed into one transaction, retried whole.

The loop (scheduler.py) calls it until nothing more is due within its horizon.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django_schedules import store, tracing
from django_schedules.plans import Planner
from django_schedules.store import Claimed


def claim_batch(
    group: str,
    owner: str,
    epoch: int,
    *,
    horizon: datetime,
    batch: int,
    planner: Planner,
    now: datetime,
    using: str,
    in_transaction: Callable[[list[Claimed]], list[Claimed]] | None = None,
) -> store.ClaimResult:
    """Claim up to `batch` schedules due at or before `horizon`, in one transaction composed
    of the store's steps: fence, read the due rows, count their live runs, plan each row
    (`planner` must not query), record the plans. The whole attempt is retried on a lock
    conflict, so every step in it must be safe to repeat.

    `in_transaction(claimed)` is the one callback that must run inside the transaction: an
    enqueue on a task queue kept in the same database (django-tasks-db) commits or rolls back
    with the claim, so a crash between the two can neither lose nor double a run. It returns
    the executions left to dispatch after commit.
    """

    def attempt() -> store.ClaimResult:
        with store.claim_transaction(group, owner, epoch, using=using) as claim:
            if claim.fenced_out:
                return store.ClaimResult(fenced_out=True)
            rows, more = claim.due_rows(horizon, batch)
            live = claim.live_counts(rows)
            plans = {r.pk: planner(r, live.get(r.pk, 0)) for r in rows}
            claimed, errors = claim.record(rows, plans, now)
            tracing.claimed(claimed, len(errors))  # a run's span is a child of its claim's
            recorded = len(claimed)
            if in_transaction is not None and claimed:
                claimed = in_transaction(claimed)
            return store.ClaimResult(
                claimed, errors, more, claim.cancel_running, claim.buffered, recorded=recorded
            )

    with tracing.claim_span(group, epoch):  # docs/tracing.md
        return store.retry(attempt, using=using)
