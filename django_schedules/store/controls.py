"""The operators' controls the store applies by itself: a pause that ends (``paused_until``),
and a run limit (``max_runs``) counted where runs start and paused where it is reached.

Each change is a conditional UPDATE whose WHERE holds the row as it was read (its version,
still paused, the same end), so two leaders, or a leader and an operator's edit, settle who
acts by the row count: the schedule resumes exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db.models import F, Subquery

from django_schedules.models import ExecutionKind, ExecutionStatus, Schedule
from django_schedules.plans import RUN_LIMIT_REASON
from django_schedules.store.metrics import Tally, add_counts
from django_schedules.store.transactions import (
    executions,
    logger,
    notify_change,
    retry,
    write_transaction,
)

# The kinds a run limit counts: an operator's run_job_now is neither counted nor refused.
COUNTED_KINDS = frozenset({ExecutionKind.SCHEDULED, ExecutionKind.CATCH_UP})


@dataclass(frozen=True)
class ExpiredPause:
    """A paused schedule whose ``paused_until`` has come, as the leader read it."""

    pk: int
    version: int
    job_id: str
    trigger: dict[str, object]
    paused_until: datetime


def expired_pauses(now: datetime, limit: int, using: str) -> list[ExpiredPause]:
    """Up to `limit` paused schedules whose pause ended at or before `now`, earliest first
    (index schedules_paused_until_idx)."""
    rows = (
        Schedule.objects.using(using)
        .filter(enabled=False, paused_until__lte=now)
        .order_by("paused_until")
        .values_list("pk", "version", "job_id", "trigger", "paused_until")[:limit]
    )
    return [
        ExpiredPause(pk, version, job_id, trigger, until)
        for pk, version, job_id, trigger, until in rows
        if until is not None
    ]


def end_pause(pause: ExpiredPause, next_run_at: datetime | None, now: datetime, using: str) -> bool:
    """Resume `pause`'s schedule from `next_run_at`. False: the row changed since it was read
    (resumed, re-paused or edited by someone else), and nothing was written."""

    def attempt() -> bool:
        with write_transaction(using):
            moved = (
                Schedule.objects.using(using)
                .filter(
                    pk=pause.pk,
                    version=pause.version,
                    enabled=False,
                    paused_until=pause.paused_until,
                )
                .update(
                    enabled=True,
                    pause_reason="",
                    paused_until=None,
                    next_run_at=next_run_at,
                    version=F("version") + 1,
                    updated_at=now,
                )
            )
            if moved:
                notify_change(using)
            return moved == 1

    return retry(attempt, using=using)


@dataclass(frozen=True)
class LimitedStart:
    """A run just moved to running whose schedule has a run limit, not yet counted."""

    execution_id: int
    schedule_id: int
    max_runs: int
    started_at: datetime


def count_runs(starts: list[LimitedStart], using: str) -> set[int]:
    """Count each run in its schedule's ``runs_started``, inside the start's transaction;
    return the ids of the runs refused because the limit was already reached (recorded as
    skipped, never run).

    The conditional UPDATE (``runs_started < max_runs``) lets one start at a time through per
    schedule, on every database: the (N+1)th never starts, even one claimed ahead. The run's
    ``run_number`` records the count it took, and marks it counted: a start tried again after
    a lost reply, or a retry of the same execution, does not count it twice. The start that
    reaches the limit pauses the schedule with the reason (``RUN_LIMIT_REASON``).
    """
    refused: set[int] = set()
    schedules = Schedule.objects.using(using)
    for start in starts:
        reason = RUN_LIMIT_REASON.format(limit=start.max_runs)
        counted = schedules.filter(pk=start.schedule_id, runs_started__lt=start.max_runs).update(
            runs_started=F("runs_started") + 1
        )
        if not counted:
            executions(using).filter(pk=start.execution_id).update(
                status=ExecutionStatus.SKIPPED,
                reason=reason,
                started_at=None,
                heartbeat_at=None,
                finished_at=start.started_at,
            )
            refused.add(start.execution_id)
            logger.info("execution %d refused: %s", start.execution_id, reason)
            continue
        number = schedules.filter(pk=start.schedule_id).values("runs_started")[:1]
        executions(using).filter(pk=start.execution_id).update(run_number=Subquery(number))
        paused = schedules.filter(
            pk=start.schedule_id, enabled=True, runs_started__gte=F("max_runs")
        ).update(enabled=False, pause_reason=reason, version=F("version") + 1)
        if paused:
            notify_change(using)
    add_counts(Tally().run(ExecutionStatus.SKIPPED, len(refused)), using)
    return refused


def pause_at_limit(reasons: dict[int, str], using: str) -> None:
    """Pause the schedules a claim found at their run limit (pk -> reason), in the claim's
    transaction."""
    by_reason: dict[str, list[int]] = {}
    for pk, reason in reasons.items():
        by_reason.setdefault(reason, []).append(pk)
    for reason, pks in by_reason.items():
        Schedule.objects.using(using).filter(pk__in=pks, enabled=True).update(
            enabled=False, pause_reason=reason[:500], version=F("version") + 1
        )


def record_outcome(
    execution_id: int,
    failed: bool,
    decide: Callable[[int, bool, int], tuple[int, str]],
    using: str,
) -> str | None:
    """Count how a run ended in its schedule's failures in a row, when the schedule has
    ``pause_after_failures``; pause the schedule when `decide` (the planner's
    ``failure_streak``: streak, failed, limit -> new streak, pause reason) says so. Return the
    schedule's job id when this run paused it, else None. The schedule's row is locked while
    it is read and written, so runs ending at once count one after the other."""

    def attempt() -> str | None:
        with write_transaction(using):
            found = (
                executions(using)
                .filter(pk=execution_id, schedule__pause_after_failures__isnull=False)
                .values_list("schedule_id", flat=True)
                .first()
            )
            if found is None:
                return None
            schedules = Schedule.objects.using(using).filter(pk=found)
            row = (
                schedules.select_for_update()
                .values_list("failures_in_a_row", "pause_after_failures", "enabled", "job_id")
                .first()
            )
            if row is None:
                return None
            streak, limit, enabled, job_id = row
            if limit is None:  # the option was removed since the run started
                return None
            new_streak, reason = decide(streak, failed, limit)
            changes: dict[str, object] = {"failures_in_a_row": new_streak}
            if reason and enabled:
                changes.update(enabled=False, pause_reason=reason[:500], version=F("version") + 1)
            if new_streak != streak or "enabled" in changes:
                schedules.update(**changes)
            if "enabled" in changes:
                notify_change(using)
                return str(job_id)
            return None

    return retry(attempt, using=using)


def paused_after_failures(limit: int, using: str) -> tuple[int, list[tuple[int, str]]]:
    """How many schedules are paused because they failed too often in a row, and the first
    `limit` of them as (pk, job id) by job id (index schedules_failing_idx)."""
    paused = Schedule.objects.using(using).filter(
        enabled=False,
        pause_after_failures__isnull=False,
        failures_in_a_row__gte=F("pause_after_failures"),
    )
    first = list(paused.order_by("job_id").values_list("pk", "job_id")[:limit])
    return (len(first) if len(first) < limit else paused.count()), first


# --- overlap policies (docs/overlap.md) ---


def count_overlaps(counts: dict[int, tuple[int, int]], using: str) -> None:
    """Add each schedule's (skipped, buffered) occurrences to its counters: a step of the
    claim's transaction, for the schedules whose occurrence met a run still going."""
    schedules = Schedule.objects.using(using)
    for pk, (skipped, buffered) in counts.items():
        schedules.filter(pk=pk).update(
            overlaps_skipped=F("overlaps_skipped") + skipped,
            overlaps_buffered=F("overlaps_buffered") + buffered,
        )


def _release(schedule_id: int, now: datetime, using: str) -> int | None:
    """Make the schedule's oldest buffered execution pending (unstamped: the leader adopts
    and dispatches it), unless a run of it is pending or running. A step of the caller's
    write transaction; the id released, or None. The compare-and-swap on the status lets
    one caller release it however many try at once."""
    # Releasers of one schedule queue on its row: this is the transaction's first statement
    # (a locking read), so what follows reads what the one before committed, also under
    # InnoDB's repeatable read.
    locked = Schedule.objects.using(using).select_for_update().filter(pk=schedule_id)
    if not list(locked.values_list("pk", flat=True)):
        return None
    table = executions(using)
    if table.live().filter(schedule_id=schedule_id).exists():
        return None
    oldest = (
        table.filter(schedule_id=schedule_id, status=ExecutionStatus.BUFFERED)
        .order_by("fire_time", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if oldest is None:
        return None
    won = table.filter(pk=oldest, status=ExecutionStatus.BUFFERED).update(
        status=ExecutionStatus.PENDING, epoch=None, run_at=now
    )
    if not won:
        return None
    notify_change(using)  # wake the leader: a pending run waits
    return oldest


def release_buffered(execution_id: int, now: datetime, using: str) -> int | None:
    """After `execution_id` ended: release the next buffered run of its schedule
    (``_release``). Return the id released, or None."""

    found = executions(using).filter(pk=execution_id).values_list("schedule_id", flat=True)
    schedule_id = found.first()
    if schedule_id is None:
        return None

    return retry(partial(_in_transaction, schedule_id, now, using), using=using)


def _in_transaction(schedule_id: int, now: datetime, using: str) -> int | None:
    with write_transaction(using):
        return _release(schedule_id, now, using)


def release_stranded(now: datetime, limit: int, using: str) -> tuple[list[int], bool]:
    """The leader's backstop: release the buffered runs of schedules with no run going (the
    run ended while the claim buffered, or it was marked lost or timed out). Return the ids
    released, and whether any schedule had buffered runs."""
    table = executions(using)
    schedule_ids = list(
        table.filter(status=ExecutionStatus.BUFFERED)
        .values_list("schedule_id", flat=True)
        .distinct()
        .order_by()[:limit]
    )
    released = []
    for schedule_id in schedule_ids:
        found = retry(partial(_in_transaction, schedule_id, now, using), using=using)
        if found is not None:
            released.append(found)
    return released, bool(schedule_ids)


def stop_running(
    schedule_ids: list[int], reason: str, now: datetime, using: str
) -> list[tuple[int, str]]:
    """Mark failed, with `reason`, the running executions of the schedules (overlap
    cancel_running); return their ids and executors' names, for the executor to stop them."""
    found: list[tuple[int, str]] = []
    with write_transaction(using):
        table = executions(using).running().filter(schedule_id__in=schedule_ids)
        found = list(table.values_list("pk", "executor"))
        if found:
            n = (
                executions(using)
                .running()
                .filter(pk__in=[pk for pk, _ in found])
                .update(status=ExecutionStatus.FAILED, reason=reason[:500], finished_at=now)
            )
            add_counts(Tally().run(ExecutionStatus.FAILED, n), using)
    return found
