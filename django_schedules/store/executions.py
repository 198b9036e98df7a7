"""An execution's lifecycle: adopted, started, retried, finished, timed out, lost. Each
transition is a conditional UPDATE whose row count says who won, under the one retry helper;
a worker's own writes (start, finish) also ride out a flaky connection (``transient``) and
recognise their own earlier success, since a try whose reply was lost may have landed."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import F

from django_schedules.dbclock import DbNow
from django_schedules.models import Execution, ExecutionStatus
from django_schedules.store.controls import COUNTED_KINDS, LimitedStart, count_runs
from django_schedules.store.dialects import dialect_for
from django_schedules.store.metrics import Tally, add_counts, finished_runs
from django_schedules.store.rows import Claimed
from django_schedules.store.transactions import executions, logger, retrying, write_transaction


@retrying()
def adopt_pending(
    epoch: int, limit: int, using: str, *, mine: Collection[int] | None = None
) -> list[Claimed]:
    """Stamp pending executions nobody live dispatches (manual ones, epoch NULL, and those
    claimed under an older epoch) with our epoch, and return them to dispatch.

    The stamp fences the earlier holder out: its workers start a row only at its own epoch.
    With `mine` (the ids the caller is dispatching), also those of our own epoch not in it:
    after a failed pass, a claim whose commit landed unseen left rows nobody dispatches.
    """
    table = executions(using)
    pending = table.orphaned(epoch, own=mine is not None)
    skip = set(mine or ())
    with write_transaction(using):
        found = pending.order_by("pk").values_list("pk", flat=True)[: limit + len(skip)]
        ids = [pk for pk in found if pk not in skip][:limit]
        if not ids:
            return []
        pending.filter(pk__in=ids).update(epoch=epoch)
        rows = (
            table.pending()
            .filter(pk__in=ids, epoch=epoch)
            .values_list(
                "pk",
                "schedule_id",
                "executor",
                "fire_time",
                "run_at",
                "schedule__timeout",
                "job_id",
                "schedule__queue",
                "schedule__priority",
            )
        )
        return [
            Claimed(pk, sid, ex, fire, run_at or fire, timeout, job_id, queue or "", priority)
            for pk, sid, ex, fire, run_at, timeout, job_id, queue, priority in rows
        ]


@dataclass(frozen=True)
class RunSpec:
    """What a worker needs to run one execution."""

    execution_id: int
    schedule_id: int | None
    func: str
    args: list[Any]
    kwargs: dict[str, Any]
    fire_time: datetime
    attempt: int
    max_retries: int
    retry_delay: float
    timeout: float | None = None  # seconds; the schedule's, read when the run starts
    misfire_grace_time: int | None = None  # seconds; the schedule's (None: no limit)
    pause_after_failures: int | None = None  # the schedule's: its end is counted when set
    overlap: str = ""  # the schedule's overlap policy: a buffering one releases at the end
    job_id: str = ""  # the execution's, for logs and traces


@dataclass(frozen=True)
class Start:
    """One execution to start: at `epoch` only when given, recorded as started at
    `started_at` (the instant the job will start)."""

    execution_id: int
    epoch: int | None
    started_at: datetime


# The columns of a RunSpec, read for the executions a start won.
_SPEC_COLUMNS = (
    "pk",
    "started_at",
    "schedule_id",
    "func",
    "args",
    "kwargs",
    "fire_time",
    "attempt",
    "schedule__max_retries",
    "schedule__retry_delay",
    "schedule__timeout",
    "schedule__misfire_grace_time",
    # A schedule's run limit: counted, or the run refused, in the same transaction.
    "schedule__max_runs",
    "run_number",
    "kind",
    "schedule__pause_after_failures",
    "schedule__overlap",
    "job_id",
)


@retrying(transient=True)
def start_executions(starts: Sequence[Start], worker: str, using: str) -> dict[int, RunSpec]:
    """CAS pending -> running for a batch, one UPDATE per epoch, then one read of the specs
    of those this call won, by id. The others are left out: another worker has them, or a
    newer lease holder adopted them, so a duplicate delivery never runs a job twice. A try
    whose reply was lost is recognised on the next by its worker and start times."""
    if not starts:
        return {}
    table = executions(using)
    worker = worker[:255]
    first: dict[int, Start] = {}
    for start in starts:  # the same run handed over twice: its first start counts
        first.setdefault(start.execution_id, start)
    by_epoch: dict[int | None, list[Start]] = {}
    for start in first.values():
        by_epoch.setdefault(start.epoch, []).append(start)
    with write_transaction(using):  # one commit for the batch
        dialect = dialect_for(using)
        for epoch, group in by_epoch.items():
            pairs = [(s.execution_id, s.started_at) for s in group]
            dialect.start(pairs, epoch, worker, using)
        wanted = {pk: s.started_at for pk, s in first.items()}
        found = table.running().filter(pk__in=list(wanted), worker=worker)
        rows = [row for row in found.values_list(*_SPEC_COLUMNS) if row[1] == wanted[row[0]]]
        column = {name: i for i, name in enumerate(_SPEC_COLUMNS)}
        limited = [
            LimitedStart(row[0], row[2], row[column["schedule__max_runs"]], row[1])
            for row in rows
            if row[column["schedule__max_runs"]] is not None
            and row[column["run_number"]] is None
            and row[column["kind"]] in COUNTED_KINDS
        ]
        refused = count_runs(limited, using) if limited else set()
    return {
        pk: RunSpec(
            execution_id=pk,
            schedule_id=schedule_id,
            # The call as claimed, never the schedule's: it may have been edited since.
            func=func,
            args=list(args),
            kwargs=dict(kwargs),
            fire_time=fire_time,
            attempt=attempt,
            max_retries=max_retries or 0,
            retry_delay=retry_delay or 0.0,
            timeout=timeout,
            misfire_grace_time=grace,
            pause_after_failures=pause_after_failures,
            overlap=overlap or "",
            job_id=job_id,
        )
        for (
            pk,
            started_at,
            schedule_id,
            func,
            args,
            kwargs,
            fire_time,
            attempt,
            max_retries,
            retry_delay,
            timeout,
            grace,
            _max_runs,
            _run_number,
            _kind,
            pause_after_failures,
            overlap,
            job_id,
        ) in rows
        if pk not in refused
    }


def start_execution(
    execution_id: int, epoch: int | None, worker: str, started_at: datetime, using: str
) -> RunSpec | None:
    """:func:`start_executions` of one: its spec, or None when it is not ours to run."""
    return start_executions([Start(execution_id, epoch, started_at)], worker, using).get(
        execution_id
    )


def cancel_pending(schedule_id: int, reason: str, now: datetime, using: str) -> int:
    """Finish the schedule's executions that have not started (pending or buffered) as
    skipped, with `reason`: the start's compare-and-swap (pending -> running) then finds
    nothing to start, whichever executor holds them. A step of the caller's write
    transaction. Return how many."""
    waiting = [ExecutionStatus.PENDING, ExecutionStatus.BUFFERED]
    qs = executions(using).filter(schedule_id=schedule_id, status__in=waiting)
    n = qs.update(status=ExecutionStatus.SKIPPED, reason=reason[:500], finished_at=now)
    add_counts(Tally().run(ExecutionStatus.SKIPPED, n), using)
    return n


def still_pending(execution_ids: Sequence[int], epoch: int, using: str) -> list[int]:
    """Those of `execution_ids` still pending under `epoch` (the tasks executor's sweeper)."""
    return list(
        executions(using)
        .pending()
        .filter(pk__in=list(execution_ids), epoch=epoch)
        .values_list("pk", flat=True)
    )


@retrying()
def next_attempt(execution_id: int, attempt: int, using: str) -> bool:
    """Record a retry as the next attempt of the same running execution."""
    qs = executions(using).running().filter(pk=execution_id, attempt=attempt)
    return qs.update(attempt=attempt + 1, heartbeat_at=DbNow()) == 1


@dataclass(frozen=True)
class Finish:
    """How one attempt of a running execution ended."""

    execution_id: int
    attempt: int
    status: str
    finished_at: datetime
    duration: timedelta
    result: str = ""
    reason: str = ""
    traceback: str = ""
    # Not written: the run's schedule counts failures in a row (runner.finished counts it).
    pause_after_failures: int | None = None
    # Not written: the schedule's overlap policy (a buffering one releases its next run).
    overlap: str = ""


@retrying(transient=True)
def finish_executions(finishes: Sequence[Finish], using: str) -> set[int]:
    """Finish a batch of running executions (each only at its attempt): one statement sent
    with every row's values (``executemany``), then one read of which landed. Return the ids
    finished by this call; the others were finished already (timed out, marked lost). A try
    whose reply was lost is recognised on the next by each row's status and finish time."""
    if not finishes:
        return set()
    connection = connections[using]
    fields: dict[str, Any] = {f.name: f for f in Execution._meta.concrete_fields}
    qn = connection.ops.quote_name
    columns = ("status", "finished_at", "duration", "result", "reason", "traceback")
    sets = ", ".join(f"{qn(fields[c].column)} = %s" for c in columns)
    sql = (
        f"UPDATE {qn(Execution._meta.db_table)} SET {sets} "  # noqa: S608 - names from the model
        f"WHERE {qn('id')} = %s AND {qn('status')} = %s AND {qn('attempt')} = %s"
    )
    finished_at, duration = fields["finished_at"], fields["duration"]
    # In id order: the order its rows are locked in, as every batch write of running rows
    # takes them (see _heartbeat).
    params = [
        (
            f.status,
            finished_at.get_db_prep_value(f.finished_at, connection),
            duration.get_db_prep_value(f.duration, connection),
            f.result,
            f.reason[:500],
            f.traceback,
            f.execution_id,
            ExecutionStatus.RUNNING.value,
            f.attempt,
        )
        for f in sorted(finishes, key=lambda f: f.execution_id)
    ]
    wanted = {f.execution_id: f for f in finishes}
    with write_transaction(using):  # one commit for the batch
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)
            fresh = cursor.rowcount != 0
        found = executions(using).filter(pk__in=list(wanted))
        rows = list(
            found.values_list(
                "pk", "status", "attempt", "finished_at", "started_at", "run_at", "fire_time"
            )
        )
        landed = [
            row
            for row in rows
            if row[1:4]
            == (wanted[row[0]].status, wanted[row[0]].attempt, wanted[row[0]].finished_at)
        ]
        # The counters, last (their rows stay locked until the commit). A transaction lands
        # whole: when this try's UPDATE changed nothing, what landed is an earlier try's,
        # whose reply was lost and whose counts were committed with it.
        if fresh:
            ends = [
                (wanted[pk].status, wanted[pk].duration, started, run_at or fire)
                for pk, _status, _attempt, _at, started, run_at, fire in landed
            ]
            add_counts(finished_runs(ends), using)
    return {row[0] for row in landed}


def finish_execution(
    execution_id: int,
    attempt: int,
    status: str,
    *,
    finished_at: datetime,
    duration: timedelta,
    result: str = "",
    reason: str = "",
    traceback: str = "",
    using: str,
) -> bool:
    """:func:`finish_executions` of one. False: it was finished already (timed out, marked
    lost)."""
    finish = Finish(execution_id, attempt, status, finished_at, duration, result, reason, traceback)
    return execution_id in finish_executions([finish], using)


@retrying()
def fail_unstarted(execution_id: int, reason: str, now: datetime, using: str) -> bool:
    """Finish a pending execution that cannot run (its executor is not configured)."""
    qs = executions(using).pending().filter(pk=execution_id)
    with write_transaction(using):
        n = qs.update(status=ExecutionStatus.FAILED, reason=reason[:500], finished_at=now)
        add_counts(Tally().run(ExecutionStatus.FAILED, n), using)
    return n == 1


@retrying()
def time_out(execution_id: int, timeout: float, now: datetime, using: str) -> bool:
    """Mark a running execution failed because it ran past its timeout."""
    qs = executions(using).running().filter(pk=execution_id)
    reason = f"timeout: still running after {timeout:g}s"
    with write_transaction(using):
        n = qs.update(status=ExecutionStatus.FAILED, reason=reason, finished_at=now)
        add_counts(Tally().run(ExecutionStatus.FAILED, n), using)
    return n == 1


def time_out_overdue(
    executor: str, grace: timedelta, now: datetime, using: str
) -> list[tuple[int, float]]:
    """Mark failed the running executions of `executor` still running `grace` past their
    schedule's timeout, judged from their ``started_at`` by `now`; return (id, timeout) of
    those marked. The running rows are few (index schedules_exec_status_idx), so the
    deadline is worked out here rather than in each database's date arithmetic."""
    rows = (
        executions(using)
        .running()
        .filter(executor=executor, schedule__timeout__isnull=False, started_at__isnull=False)
    )
    late: list[tuple[int, float]] = [
        (pk, timeout)
        for pk, started_at, timeout in rows.values_list("pk", "started_at", "schedule__timeout")
        if started_at is not None
        and timeout is not None
        and started_at + timedelta(seconds=timeout) + grace <= now
    ]
    return [(pk, timeout) for pk, timeout in late if time_out(pk, timeout, now, using)]


def heartbeat(
    execution_ids: Sequence[int], using: str, *, older_than: timedelta | None = None
) -> int:
    """Refresh the heartbeat of our running executions, by the database's clock; with
    `older_than`, only of those whose heartbeat (or start) is older than that."""
    if not execution_ids:
        return 0
    return _heartbeat(list(execution_ids), using, older_than)


@retrying()
def _heartbeat(execution_ids: list[int], using: str, older_than: timedelta | None) -> int:
    qs = executions(using).running().filter(pk__in=execution_ids)
    if older_than is not None:
        qs = qs.filter(heartbeat_at__lt=DbNow() - older_than)
    features = connections[using].features
    if not features.has_select_for_update:  # SQLite: one writer at a time, no row locks
        return qs.update(heartbeat_at=DbNow())
    # Lock the rows first, in id order, passing over those another transaction holds (a
    # finisher ending them needs no heartbeat). One UPDATE of many rows locks them in the
    # order its scan meets them (on PostgreSQL, their place in the table), the finisher in
    # id order: the two could each wait for the other until PostgreSQL's deadlock check
    # (deadlock_timeout, 1 s) ended one, and the scheduler loop stood still for that second
    # (benchmarks/sustained.py at 1,000 runs a second: claims 1.0 s late).
    skip = features.has_select_for_update_skip_locked
    with write_transaction(using):
        locked = qs.select_for_update(skip_locked=skip).order_by("pk")
        ids = list(locked.values_list("pk", flat=True))
        if not ids:
            return 0
        return executions(using).filter(pk__in=ids).update(heartbeat_at=DbNow())


@retrying()
def mark_lost(
    *,
    older_than: timedelta | None = None,
    execution_ids: Sequence[int] | None = None,
    reason: str,
    now: datetime,
    using: str,
) -> list[int]:
    """Mark running executions lost: those whose heartbeat is older than `older_than` by the
    database's clock (index schedules_exec_status_idx), or the given ids. Return the ids
    marked lost; those of a ``rerun_lost`` schedule with attempts left go back to ``pending``
    as their next attempt instead, and are not returned.

    With `older_than`, a SELECT comes first; one query when nothing is lost.
    """
    running = executions(using).running()
    qs = running if older_than is None else executions(using).silent(older_than)
    if execution_ids is not None:
        qs = qs.filter(pk__in=list(execution_ids))
    with write_transaction(using):
        if older_than is not None:
            _walk_the_index(using)
        rows = list(
            qs.values_list("pk", "attempt", "schedule__rerun_lost", "schedule__max_retries")[:1000]
        )
        # rerun_lost: the next attempt of the same Execution, back to pending with no
        # epoch (the leader adopts it like a manual run); a lost attempt counts against
        # max_retries like a failed one, with at least one re-run (docs/guarantees.md).
        again = [
            pk
            for pk, tries, rerun, retries in rows
            if rerun and tries < max(int(retries or 0) + 1, 2)
        ]
        ids = [pk for pk, *_ in rows if pk not in again]
        if ids:
            running.filter(pk__in=ids).update(
                status=ExecutionStatus.LOST, reason=reason[:500], finished_at=now
            )
        if again:
            running.filter(pk__in=again).update(
                status=ExecutionStatus.PENDING,
                attempt=F("attempt") + 1,
                epoch=None,
                worker="",
                started_at=None,
                heartbeat_at=None,
                reason=f"re-run: the previous attempt was lost ({reason})"[:500],
            )
            logger.warning(
                "execution(s) %s lost (%s); re-running them (rerun_lost)",
                ", ".join(map(str, again)),
                reason,
            )
        add_counts(Tally().run(ExecutionStatus.LOST, len(ids)), using)
        return ids


def _walk_the_index(using: str) -> None:
    """On PostgreSQL, have this transaction's search for silent runs walk their index
    (schedules_exec_status_idx) rather than read it into a bitmap. Each run leaves a dead
    ``running`` entry in that index until VACUUM: at 1,000 runs a second the bitmap read
    went through 700,000 of them, 270 ms every lost check, while the scheduler loop waited
    (benchmarks/sustained.py). A walk marks the dead entries it meets, so the next one passes
    over them: 276 ms once, then 2 ms."""
    if connections[using].vendor == "postgresql":
        with connections[using].cursor() as cursor:
            cursor.execute("SET LOCAL enable_bitmapscan = off")


def get_execution(execution_id: int, using: str) -> Execution | None:
    """The Execution row as it is now (None once it is gone): what the signals' receivers get."""
    return executions(using).filter(pk=execution_id).first()
