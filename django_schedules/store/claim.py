"""The batch claim, as steps the engine composes inside one transaction:

    with claim_transaction(group, owner, epoch, using=using) as claim:   # fence check
        if claim.fenced_out: ...                                          # stop firing
        rows, more = claim.due_rows(horizon, batch)                       # index schedules_due_idx
        live = claim.live_counts(rows)                                    # for max_instances
        plans = {row.pk: <the planner>(row, live.get(row.pk, 0)) for row in rows}
        claimed, errors = claim.record(rows, plans, now)                  # UPDATE, then INSERT

the whole attempt retried by ``retry(attempt, using=using)``. A fixed number of statements
whatever the batch size. UPDATE before INSERT: the reverse deadlocked on InnoDB. The unique
(schedule, fire_time) constraint is the last line of defence. ``claiming.claim_batch`` is
that composition.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, TextField
from django.db.models.functions import Cast

from django_schedules.models import FINISHED_STATUSES, ExecutionStatus, Schedule
from django_schedules.store.calendars import attach_calendars
from django_schedules.store.controls import count_overlaps, pause_at_limit
from django_schedules.store.dialects import NewRow, dialect_for
from django_schedules.store.executions import cancel_pending
from django_schedules.store.lease import fence
from django_schedules.store.metrics import CLAIM_BATCH, Tally, add_counts
from django_schedules.store.rows import (
    Claimed,
    DueSchedule,
    NewExecution,
    SchedulePlan,
)
from django_schedules.store.transactions import executions, write_transaction

_UNFINISHED = frozenset({ExecutionStatus.PENDING, ExecutionStatus.BUFFERED})
# Why a run not started yet was skipped when overlap=cancel_running started a newer one.
CANCELLED_PENDING = "overlap=cancel_running: a newer occurrence replaced it before it started"

# The columns a claim reads of a due schedule, in DueSchedule's order.
_DUE_COLUMNS = (
    "pk",
    "version",
    "job_id",
    "name",
    "func",
    "executor",
    "trigger_text",
    "args_text",
    "kwargs_text",
    "misfire_grace_time",
    "misfire_policy",
    "max_instances",
    "timeout",
    "next_run_at",
    "queue",
    "priority",
    "max_runs",
    "runs_started",
    "overlap",
    "calendars_text",
)


def due_queryset(horizon: datetime, limit: int, using: str) -> Any:
    """The claim's read: up to `limit` schedules due at or before `horizon`, soonest first,
    as value tuples in DueSchedule's order (``ScheduleQuerySet.due``, index
    schedules_due_idx). JSON stays text: the planner parses it only when its caches miss."""
    return (
        Schedule.objects.using(using)
        .due(horizon)
        .annotate(
            trigger_text=Cast("trigger", TextField()),
            args_text=Cast("args", TextField()),
            kwargs_text=Cast("kwargs", TextField()),
            calendars_text=Cast("calendars", TextField()),
        )
        .values_list(*_DUE_COLUMNS)[:limit]
    )


class ClaimTransaction:
    """The steps of one claim, inside the transaction ``claim_transaction`` opened."""

    def __init__(self, group: str, owner: str, epoch: int, using: str) -> None:
        self.group = group
        self.owner = owner
        self.epoch = epoch
        self.using = using
        self.fenced_out = False
        # Schedules whose running runs overlap=cancel_running asks to stop (the scheduler
        # stops them after the commit: runner.cancel_running).
        self.cancel_running: list[int] = []
        self.buffered = False  # it buffered occurrences: the leader's upkeep looks after them

    def batch_limit(self, batch: int) -> int:
        """`batch`, capped by the parameters the UPDATE may carry on this database."""
        return min(batch, dialect_for(self.using).max_params // 5)

    def due_rows(self, horizon: datetime, batch: int) -> tuple[list[DueSchedule], bool]:
        """Up to `batch` due rows (capped by ``batch_limit``), and whether more are due."""
        batch = self.batch_limit(batch)
        rows = [DueSchedule(*row) for row in due_queryset(horizon, batch + 1, self.using)]
        attach_calendars(rows[:batch], self.using)  # one query, and only if a row names one
        return rows[:batch], len(rows) > batch

    def live_counts(self, rows: Sequence[DueSchedule]) -> dict[int, int]:
        """Pending and running executions per schedule of `rows`, for ``max_instances`` and
        the overlap policy; a schedule with none is left out. The same query counts each
        row's buffered executions into its ``buffered``."""
        if not rows:
            return {}
        live = [ExecutionStatus.PENDING, ExecutionStatus.RUNNING]
        counts = (
            executions(self.using)
            .filter(
                schedule_id__in=[r.pk for r in rows],
                status__in=[*live, ExecutionStatus.BUFFERED],
            )
            .values("schedule_id")
            .annotate(
                n=Count("pk", filter=Q(status__in=live)),
                b=Count("pk", filter=Q(status=ExecutionStatus.BUFFERED)),
            )
            .values_list("schedule_id", "n", "b")
        )
        found = {pk: (n, b) for pk, n, b in counts}
        for row in rows:
            row.buffered = found.get(row.pk, (0, 0))[1]
        return {pk: n for pk, (n, _) in found.items() if n}

    def record(
        self, rows: Sequence[DueSchedule], plans: dict[int, SchedulePlan], now: datetime
    ) -> tuple[list[Claimed], list[tuple[int, str]]]:
        """Move the rows on as planned (one conditional UPDATE, each row's version in its
        WHERE) and insert their executions (one multi-row INSERT). Return the pending
        executions to dispatch, and (schedule pk, error) of the plans with an error, both
        only for the rows this claim moved (the others changed under us)."""
        if not rows:
            return [], []
        dialect = dialect_for(self.using)
        won = dialect.advance(rows, plans, now, self.using)
        at_limit = {pk: plans[pk].pause_reason for pk in won if plans[pk].pause_reason}
        if at_limit:  # rare: only a schedule found at its max_runs
            pause_at_limit(at_limit, self.using)
        by_pk = {r.pk: r for r in rows if r.pk in won}
        counted = {
            pk: (plans[pk].overlap_skipped, plans[pk].overlap_buffered)
            for pk in by_pk
            if plans[pk].overlap_skipped or plans[pk].overlap_buffered
        }
        if counted:  # only schedules whose occurrence met a run still going
            count_overlaps(counted, self.using)
            self.buffered = self.buffered or any(b for _, b in counted.values())
        cancel = [pk for pk in by_pk if plans[pk].cancel_running]
        if cancel:  # before the insert: only what was pending until now is skipped
            for pk in cancel:
                cancel_pending(pk, CANCELLED_PENDING, now, self.using)
            self.cancel_running.extend(cancel)
        inserts = [
            _new_row(by_pk[pk], e, self.epoch, now) for pk in by_pk for e in plans[pk].executions
        ]
        inserted = dialect.insert(inserts, self.using) if inserts else []
        # The counters, last: occurrences recorded finished (missed, skipped, failed) and
        # the batch's size; one statement.
        tally = Tally().observe(CLAIM_BATCH, len(by_pk)) if by_pk else Tally()
        for status, n in Counter(r.status for r in inserted).items():
            if status in FINISHED_STATUSES:
                tally.run(status, n)
        add_counts(tally, self.using)
        claimed = [
            Claimed(
                execution_id=row.id,
                schedule_id=row.schedule_id,
                executor=by_pk[row.schedule_id].executor,
                fire_time=row.fire_time,
                run_at=row.run_at or row.fire_time,
                timeout=by_pk[row.schedule_id].timeout,
                job_id=by_pk[row.schedule_id].job_id,
                queue=by_pk[row.schedule_id].queue,
                priority=by_pk[row.schedule_id].priority,
            )
            for row in inserted
            if row.status == ExecutionStatus.PENDING
        ]
        errors = [(pk, plans[pk].error) for pk in by_pk if plans[pk].error]
        return claimed, errors


@contextmanager
def claim_transaction(
    group: str, owner: str, epoch: int, *, using: str
) -> Iterator[ClaimTransaction]:
    """Open the claim's write transaction and check the fence: ``fenced_out`` is True when we
    no longer hold the lease at `epoch` (then claim nothing, and stop firing)."""
    with write_transaction(using):
        claim = ClaimTransaction(group, owner, epoch, using)
        claim.fenced_out = not fence(group, owner, epoch, using)
        yield claim


def _new_row(s: DueSchedule, e: NewExecution, epoch: int, now: datetime) -> NewRow:
    return NewRow(
        schedule_id=s.pk,
        job_id=s.job_id,
        name=s.name,
        func=s.func,
        args=s.args,
        kwargs=s.kwargs,
        fire_time=e.fire_time,
        run_at=e.run_at or e.fire_time,
        kind=e.kind,
        status=e.status,
        reason=e.reason[:500],
        executor=s.executor,
        epoch=epoch,
        finished_at=None if e.status in _UNFINISHED else now,
    )
