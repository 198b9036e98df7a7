"""The planner: what a due schedule does now (misfire policy, coalescing, max instances and
the overlap policy, catch-up), over plain values. No query, no clock: the claim hands it a
due row and the number of live runs, and records the plan it returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django_schedules.calendars import covering, free_from
from django_schedules.exceptions import JobNotRegistered
from django_schedules.plans import (
    ALLOW,
    BUFFER_ONE,
    BUFFERED,
    CALENDAR_REASON,
    CANCEL_RUNNING,
    CATCH_UP,
    FAILED,
    FAILURES_REASON,
    MAX_BUFFERED,
    MAX_CALENDAR_SKIPS,
    MISSED,
    NO_OVERLAP_POLICY,
    OVERLAP_SKIP,
    RUN_ALL,
    RUN_LIMIT_REASON,
    RUN_ONCE,
    SCHEDULED,
    SKIPPED,
    DueSchedule,
    NewExecution,
    SchedulePlan,
)
from django_schedules.registry import IN_SCRIPT, get_registered
from django_schedules.triggers import trigger_from_dict

# Walking a long gap occurrence by occurrence stops after this many; the rest is counted by
# jumping straight to the first occurrence after the gap.
MAX_WALK = 100_000


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


@dataclass
class _Gap:
    """Missed occurrences, counted without keeping them all."""

    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    exact: bool = True

    def add(self, fire_time: datetime) -> None:
        self.count += 1
        self.first = self.first or fire_time
        self.last = fire_time

    def reason(self) -> str:
        assert self.first is not None and self.last is not None  # noqa: S101 - invariant
        n = f"{self.count}" if self.exact else f"more than {self.count}"
        word = "occurrence" if self.count == 1 and self.exact else "occurrences"
        return f"{n} {word} missed from {self.first.isoformat()} to {self.last.isoformat()}"


# Trigger objects by their JSON text, and whether arguments bind to a job by the job's name
# and the arguments' JSON text: a claim reads both as text and parses them only when they are
# new (parsing and building a trigger cost more than the rest of planning). Triggers are
# immutable, so schedules with the same trigger share one. Bounded: cleared when full.
_TRIGGERS: dict[str, Any] = {}
_BINDS: dict[tuple[str, str, str], tuple[Any, str]] = {}
_CACHE_MAX = 10_000


def _trigger_of(text: str) -> Any:
    trigger = _TRIGGERS.get(text)
    if trigger is None:
        trigger = trigger_from_dict(json.loads(text))
        if len(_TRIGGERS) >= _CACHE_MAX:
            _TRIGGERS.clear()
        _TRIGGERS[text] = trigger
    return trigger


def _refusal(schedule: DueSchedule) -> str:
    """Why the schedule's job cannot run with its arguments ("" when it can)."""
    try:
        job = get_registered(schedule.func)
    except JobNotRegistered:
        if schedule.func.startswith("__main__."):  # another process leads the group
            return f"callable not registered: {schedule.func!r} {IN_SCRIPT}"
        return f"callable not registered: {schedule.func!r}"
    key = (schedule.func, schedule.args, schedule.kwargs)
    cached = _BINDS.get(key)
    if cached is not None and cached[0] is job:  # the same registration
        return str(cached[1])
    try:
        job.bind(json.loads(schedule.args), json.loads(schedule.kwargs))
        refusal = ""
    except TypeError as exc:
        refusal = f"arguments do not bind: {exc}"
    if len(_BINDS) >= _CACHE_MAX:
        _BINDS.clear()
    _BINDS[key] = (job, refusal)
    return refusal


def failure_streak(streak: int, failed: bool, limit: int) -> tuple[int, str]:
    """A schedule's failed runs in a row after one more run ended (`failed` or not), and the
    pause reason when the streak reaches `limit` ("" when it does not pause). A run that did
    not fail ends the streak."""
    if not failed:
        return 0, ""
    streak += 1
    if streak < limit:
        return streak, ""
    return streak, FAILURES_REASON.format(failures=streak, limit=limit)


def resume_from(trigger: dict[str, Any], until: datetime) -> datetime | None:
    """The next run of a schedule whose pause ends at `until`: its first occurrence at or
    after `until`, in UTC; None when the trigger is exhausted or cannot be read (the schedule
    then resumes with no next run, as an exhausted one)."""
    try:
        return _utc(trigger_from_dict(trigger).get_next_fire_time(None, until))
    except Exception:
        return None


def plan_schedule(
    schedule: DueSchedule,
    live: int,
    *,
    now: datetime,
    horizon: datetime,
    max_catch_up: int,
) -> SchedulePlan:
    """Decide what a due schedule does now: which occurrences run, which are recorded as
    missed or skipped, and its next run. Pure: no query, no clock.

    An occurrence is misfired when it cannot start within ``misfire_grace_time`` seconds of
    its fire time; ``misfire_policy`` then decides (docs/scheduler.md#misfires).
    """
    try:
        trigger = _trigger_of(schedule.trigger)
    except Exception as exc:
        return SchedulePlan(None, error=f"invalid trigger: {type(exc).__name__}: {exc}")
    refusal = _refusal(schedule)

    grace = schedule.misfire_grace_time
    late_before = None if grace is None else now - timedelta(seconds=grace)
    policy = schedule.misfire_policy
    missed = _Gap()
    run_missed: list[datetime] = []  # run_all: the oldest ones, up to max_catch_up
    beyond = _Gap()  # run_all: the missed ones past max_catch_up
    on_time: list[datetime] = []
    before_last: datetime | None = None  # run_once: the missed occurrence before the latest
    excluded: list[NewExecution] = []  # one skipped row per exclusion window met
    try:
        fire: datetime | None = _utc(schedule.next_run_at)
        walked = 0
        while fire is not None and fire <= horizon and len(on_time) < max_catch_up:
            if schedule.calendars and (hit := _excluded(schedule, trigger, fire)) is not None:
                if isinstance(hit, str):
                    return SchedulePlan(None, error=hit)
                row, fire = hit
                if len(excluded) < MAX_CALENDAR_SKIPS:  # past the bound: passed over unrecorded
                    excluded.append(row)
                continue
            if late_before is not None and fire < late_before:
                if walked >= MAX_WALK:
                    # Jump over the rest of the gap; the count is now a lower bound.
                    missed.exact = beyond.exact = False
                    fire = _utc(trigger.get_next_fire_time(None, late_before))
                    continue
                before_last = missed.last
                missed.add(fire)
                if policy == RUN_ALL:
                    if len(run_missed) < max_catch_up:
                        run_missed.append(fire)
                    else:
                        beyond.add(fire)
            else:
                on_time.append(fire)
            walked += 1
            previous, fire = fire, _utc(trigger.get_next_fire_time(fire, now))
            if fire is not None and fire <= previous:
                raise ValueError(f"it did not move past {previous.isoformat()}")
        # Its next run skips the calendars too: the windows ahead are recorded now, up to a
        # bound (the next claim goes on from there).
        while (
            fire is not None
            and schedule.calendars
            and len(excluded) < MAX_CALENDAR_SKIPS
            and (hit := _excluded(schedule, trigger, fire)) is not None
        ):
            if isinstance(hit, str):
                return SchedulePlan(None, error=hit)
            row, fire = hit
            excluded.append(row)
        next_run_at = fire
    except Exception as exc:
        return SchedulePlan(None, error=f"trigger failed: {type(exc).__name__}: {exc}")

    rows: list[NewExecution] = excluded
    runs: list[tuple[datetime, str]] = [(f, SCHEDULED) for f in on_time]
    if missed.count:
        if policy == RUN_ALL:
            runs = [(f, CATCH_UP) for f in run_missed] + runs
            if beyond.count:
                rows.append(
                    NewExecution(
                        fire_time=beyond.first,  # type: ignore[arg-type]
                        status=MISSED,
                        reason=f"{beyond.reason()} (beyond SCHEDULES_MAX_CATCH_UP)",
                    )
                )
        elif policy == RUN_ONCE and not on_time:
            # Run the latest missed occurrence once now; record the others.
            runs = [(missed.last, CATCH_UP)]  # type: ignore[list-item]
            if missed.count > 1:
                others = _Gap(missed.count - 1, missed.first, before_last, missed.exact)
                rows.append(
                    NewExecution(
                        fire_time=missed.first,  # type: ignore[arg-type]
                        status=MISSED,
                        reason=others.reason(),
                    )
                )
        else:  # skip, or run_once coalesced into an on-time run
            rows.append(
                NewExecution(
                    fire_time=missed.first,  # type: ignore[arg-type]
                    status=MISSED,
                    reason=missed.reason(),
                )
            )
    limit = schedule.max_runs
    left = None if limit is None else limit - schedule.runs_started  # runs it may still start
    buffered, counted_buffered, skipped, cancel, going = schedule.buffered, 0, 0, False, live
    for fire, kind in runs:
        if refusal:
            rows.append(NewExecution(fire, kind, FAILED, reason=refusal[:500]))
        elif left is not None and left <= 0:
            rows.append(NewExecution(fire, kind, SKIPPED, reason=run_limit_reason(limit)))
        elif (verdict := overlap_verdict(schedule, live, buffered)) is not None:
            status, reason = verdict
            rows.append(NewExecution(fire, kind, status, reason=reason))
            if status == BUFFERED:
                buffered += 1
                counted_buffered += 1
            else:
                skipped += 1
        else:
            # cancel_running stops the runs going before this claim, not those it plans.
            cancel = cancel or (schedule.overlap == CANCEL_RUNNING and going > 0)
            live += 1
            left = None if left is None else left - 1
            run_at = fire + trigger.get_jitter(fire)
            rows.append(NewExecution(fire, kind, run_at=run_at.astimezone(UTC)))
    # At its limit already (the start that reached it paused it, unless max_runs was lowered
    # since): pause it. Runs claimed past the limit are refused when they start.
    reached = limit is not None and schedule.runs_started >= limit
    pause = run_limit_reason(limit) if reached else ""
    return SchedulePlan(
        next_run_at,
        rows,
        error=refusal,
        pause_reason=pause,
        overlap_skipped=skipped,
        overlap_buffered=counted_buffered,
        cancel_running=cancel,
    )


def _excluded(
    schedule: DueSchedule, trigger: Any, fire: datetime
) -> tuple[NewExecution, datetime | None] | str | None:
    """None when `fire` is outside the schedule's calendars. Else the skipped row of `fire`
    (naming the calendar) and the trigger's first occurrence after the window, or the error
    of a schedule whose calendars cover it for good."""
    calendar = covering(schedule.calendars, fire)
    if calendar is None:
        return None
    free = free_from(schedule.calendars, fire)
    if free is None:
        return (
            f"calendar {calendar.name!r} and the others of the schedule cover every instant "
            f"from {fire.isoformat()} on, as far as the planner looks"
        )
    reason = CALENDAR_REASON.format(name=calendar.name, until=free.isoformat())
    row = NewExecution(fire, SCHEDULED, SKIPPED, reason=reason[:500])
    following = _utc(trigger.get_next_fire_time(None, free))
    if following is not None and following <= fire:  # a date trigger's one occurrence
        following = _utc(trigger.get_next_fire_time(fire, free))
    for _ in range(MAX_WALK):  # a trigger whose first occurrence from `free` lies before it
        if following is None or following >= free:
            break
        previous, following = following, _utc(trigger.get_next_fire_time(following, free))
        if following is not None and following <= previous:
            raise ValueError(f"it did not move past {previous.isoformat()}")
    return row, following


def overlap_verdict(schedule: DueSchedule, live: int, buffered: int) -> tuple[str, str] | None:
    """What an occurrence does given the schedule's `live` runs (pending or running) and its
    `buffered` ones: None to run it now, else its status (skipped or buffered) and reason.
    Without an overlap policy, ``max_instances`` decides as it always did
    (docs/overlap.md)."""
    policy, cap = schedule.overlap, schedule.max_instances
    if policy == NO_OVERLAP_POLICY:
        if live >= cap:
            return SKIPPED, f"max_instances reached ({cap} already running)"
        return None
    if policy == ALLOW:
        if cap > 1 and live >= cap:  # a cap of 1 would be "skip": allow means no cap then
            return SKIPPED, f"overlap=allow: max_instances reached ({cap} already running)"
        return None
    if policy == CANCEL_RUNNING:
        return None  # it runs; the claim stops the running one (plan.cancel_running)
    if live == 0 and buffered == 0:
        return None
    if policy == OVERLAP_SKIP:
        return SKIPPED, "overlap=skip: a run of the schedule is still going"
    room = 1 if policy == BUFFER_ONE else MAX_BUFFERED
    if buffered >= room:
        waiting = "a run already waits" if room == 1 else f"{room} runs already wait"
        return SKIPPED, f"overlap={policy}: the buffer is full ({waiting})"
    return BUFFERED, f"overlap={policy}: buffered until the running run ends"


def run_limit_reason(limit: int | None) -> str:
    """The pause reason of a schedule at its run limit, and the reason of a run refused by it
    (the store's start writes the same words: store.controls.count_runs)."""
    return RUN_LIMIT_REASON.format(limit=limit)
