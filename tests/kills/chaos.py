"""The chaos case of tests/kills (issue 21): scheduler processes killed, frozen past their lease
and stopped, while another thread edits the schedules through the public API; and the oracle
that checks every occurrence against the triggers and the logged edits.

The editor calls the API as an application does (each call its own transaction, its "now" read
before it waits for a lock) and logs each edit exactly: the row before it is the one the API's
own transaction locked (``store.locked_schedule``, watched by ``LockSpy``, which calls it and
notes what it returned: the last call before the commit is the one that counted), the row after
it is the one the API returns. No claim comes in between: on SQLite the API's transaction holds
the write lock from BEGIN; elsewhere a claim's conditional UPDATE of that row waits for the
edit's commit and then finds the version moved. An edit that fails rolled back whole and is not
logged.

The oracle (``check``) then knows, for each schedule, the states its edits left: a trigger, a
``next_run_at`` and whether it was enabled. From each state to the next edit, the claims walk
``next_run_at`` along that trigger; the occurrences walked over are those from the state's
``next_run_at`` up to the next edit's ``next_run_at`` before it (or the final ``next_run_at``
once every scheduler stopped). Each of those must have exactly one record: an Execution of its
own, or a place in the range of one ``missed`` Execution (whose count must agree); no Execution
may stand for an occurrence outside them.
"""

from __future__ import annotations

import json
import queue
import random
import re
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DatabaseError, connections

from django_schedules import api, store
from django_schedules.models import Execution, Schedule
from django_schedules.triggers import CronTrigger, IntervalTrigger, trigger_from_dict
from tests.kills import jobs  # noqa: F401 - registers kills.chaos in this process
from tests.processes import ManageCommand

from .harness import LIVE, TTL, Figures, freeze, leader_pid, progress, scheduler_process

PREFIX = "chaos-"
JOB = "kills.chaos"
# The thread pool, and a small process pool for some schedules (its own fire-time rules).
EXECUTORS = {
    "default": {"BACKEND": "threadpool", "OPTIONS": {"max_workers": 8}},
    "pool": {"BACKEND": "processpool", "OPTIONS": {"max_workers": 1}},
}
_MISSED = re.compile(r"^(more than )?(\d+) occurrences? missed from (\S+) to (\S+)")


# The load.


def random_trigger(rng: random.Random, now: datetime) -> Any:
    """An interval trigger with its phase at a random microsecond, or a cron trigger on whole
    seconds: two cron schedules, or a cron schedule before and after a reschedule, share
    instants."""
    if rng.random() < 0.5:
        return IntervalTrigger(
            seconds=rng.choice([1, 1, 2, 3, 5]),
            start_date=now + timedelta(seconds=rng.uniform(0, 2)),
        )
    return CronTrigger(second=rng.choice(["*", "*/2", "*/3", "*/5"]), timezone="UTC")


def add_random(rng: random.Random, job_id: str, now: datetime) -> Callable[[], object]:
    """The add_job call of a new schedule: a mix of triggers (some one-shot), misfire policies
    and grace times, max_instances and executors."""
    if rng.random() < 0.1:
        trigger: Any = "date"
        trigger_args: dict[str, Any] = {"run_date": now + timedelta(seconds=rng.uniform(1, 20))}
    else:
        trigger, trigger_args = random_trigger(rng, now), {}
    options: dict[str, Any] = {
        "misfire_policy": rng.choice(["run_once", "skip", "run_all"]),
        "misfire_grace_time": rng.choice([1, 1, 2, 5, 60, None]),
        "max_instances": rng.choice([1, 1, 2]),
        "executor": "pool" if rng.random() < 0.1 else "default",
        "kwargs": {"n": rng.randrange(100)},
    }
    return lambda: api.add_job(JOB, trigger, id=job_id, **options, **trigger_args)


# The edit log.


@dataclass(frozen=True)
class State:
    """A schedule's row as an edit read it: None fields once it is removed."""

    next_run_at: datetime | None
    enabled: bool
    trigger: dict[str, Any] | None


@dataclass(frozen=True)
class Edit:
    job_id: str
    action: str
    at: datetime
    before: State | None  # None: the schedule did not exist (add_job)
    after: State | None  # None: removed


def state_of(schedule: Schedule) -> State:
    return State(schedule.next_run_at, schedule.enabled, schedule.trigger)


class LockSpy:
    """Wraps ``store.locked_schedule`` (as the API and the store call it) with a function that
    calls it and notes, per job id, the state of the row it locked. Install it with
    ``monkeypatch`` in the editor's process: it changes nothing the API does."""

    def __init__(self) -> None:
        self.seen: dict[str, State] = {}

    def install(self, monkeypatch: Any) -> None:
        from django_schedules.store import schedules

        real = schedules.locked_schedule

        def locked_schedule(job_id: str, using: str | None = None) -> Schedule:
            schedule = real(job_id, using)
            self.seen[job_id] = state_of(schedule)
            return schedule

        monkeypatch.setattr(store, "locked_schedule", locked_schedule)
        monkeypatch.setattr(schedules, "locked_schedule", locked_schedule)


@dataclass
class Editor:
    """A thread that edits schedules through the public API until stopped, logging each edit
    with the row before and after (see the module docstring)."""

    rng: random.Random
    spy: LockSpy
    pause: float = 0.05  # seconds between edits
    edits: list[Edit] = field(default_factory=list)
    manual: list[tuple[str, int]] = field(default_factory=list)  # run_job_now: (job, id)
    failed: Counter[str] = field(default_factory=Counter)
    live: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None
    _urgent: queue.SimpleQueue[tuple[str, datetime]] = field(default_factory=queue.SimpleQueue)
    _wake: threading.Event = field(default_factory=threading.Event)
    _born: int = 0

    def edit(self, job_id: str, action: str, call: Callable[[], Any]) -> bool:
        """Make one edit through the API; log it with the row before and after."""
        self.spy.seen.pop(job_id, None)
        try:
            result = call()
        except DatabaseError as exc:
            self.failed[f"{action}: {type(exc).__name__}"] += 1
            connections["default"].close()
            return False
        if action == "run_job_now":  # no change to the schedule: a manual Execution
            self.manual.append((job_id, result.pk))
            return True
        before = self.spy.seen.pop(job_id, None)
        assert (before is None) == (action == "add_job"), f"{action}: no lock seen"
        after = None if action == "remove_job" else state_of(result)
        self.edits.append(Edit(job_id, action, datetime.now(UTC), before, after))
        return True

    def add(self, now: datetime) -> None:
        self._born += 1
        job_id = f"{PREFIX}{self._born}"
        if self.edit(job_id, "add_job", add_random(self.rng, job_id, now)):
            self.live.append(job_id)

    def step(self) -> None:
        """One random edit, weighted towards those that move next_run_at."""
        rng, now = self.rng, datetime.now(UTC)
        job_id = rng.choice(self.live)
        action = rng.choices(
            [
                "modify_job(kwargs)",
                "modify_job(misfire_grace_time)",
                "modify_job(trigger)",
                "reschedule_job",
                "pause_job",
                "resume_job",
                "pause_and_resume",
                "remove_job",
                "add_job",
                "run_job_now",
            ],
            weights=[2, 1, 2, 2, 2, 2, 2, 1, 1, 2],
        )[0]
        if action == "modify_job(kwargs)":
            kwargs = {"n": rng.randrange(100)}
            self.edit(job_id, action, lambda: api.modify_job(job_id, kwargs=kwargs))
        elif action == "modify_job(misfire_grace_time)":
            grace = rng.choice([1, 2, 60, None])
            self.edit(job_id, action, lambda: api.modify_job(job_id, misfire_grace_time=grace))
        elif action == "modify_job(trigger)":
            trigger = random_trigger(rng, now)
            self.edit(job_id, action, lambda: api.modify_job(job_id, trigger=trigger))
        elif action == "reschedule_job":
            trigger = random_trigger(rng, now)
            self.edit(job_id, action, lambda: api.reschedule_job(job_id, trigger=trigger))
        elif action == "pause_job" or (action == "resume_job" and not self.paused):
            if self.edit(job_id, "pause_job", lambda: api.pause_job(job_id)):
                self.paused.append(job_id)
        elif action == "resume_job":
            resumed = self.paused.pop(rng.randrange(len(self.paused)))
            if resumed in self.live:
                self.edit(resumed, action, lambda: api.resume_job(resumed))
        elif action == "pause_and_resume":
            # Resumed within a claim's look-ahead of the pause: the next run is computed again
            # from now, which may be an occurrence claimed ahead already.
            self.edit(job_id, "pause_job", lambda: api.pause_job(job_id))
            time.sleep(rng.uniform(0, 0.1))
            self.edit(job_id, "resume_job", lambda: api.resume_job(job_id))
        elif action == "remove_job":
            if self.edit(job_id, action, lambda: api.remove_job(job_id)):
                self.live.remove(job_id)
            self.add(now)  # keep the count
        elif action == "add_job":
            self.add(now)
        else:
            self.edit(job_id, action, lambda: api.run_job_now(job_id))

    def hurry(self, claimed: list[tuple[str, datetime]]) -> None:
        """Edit these schedules next, at once, each so that its next run is computed again
        from now (``hurried``); each comes with the fire time of its occurrence claimed."""
        for item in claimed:
            self._urgent.put(item)
        self._wake.set()

    def hurried(self, job_id: str, fire: datetime) -> None:
        """Pause and resume the schedule; or make it skip what it misses, after a second, and
        fire every second from its claimed occurrence on; or give it a cron trigger on whole
        seconds (which shares instants with any cron trigger it had)."""
        if job_id not in self.live:
            return
        choice = self.rng.randrange(3)
        if choice == 0:
            self.edit(job_id, "pause_job", lambda: api.pause_job(job_id))
            self.edit(job_id, "resume_job", lambda: api.resume_job(job_id))
        elif choice == 1:
            misfires = {"misfire_grace_time": 1, "misfire_policy": "skip"}
            self.edit(job_id, "modify_job(misfires)", lambda: api.modify_job(job_id, **misfires))
            trigger = IntervalTrigger(seconds=1, start_date=fire)
            self.edit(job_id, "reschedule_job", lambda: api.reschedule_job(job_id, trigger))
        else:
            trigger = CronTrigger(second=self.rng.choice(["*", "*/2"]), timezone="UTC")
            self.edit(job_id, "reschedule_job", lambda: api.reschedule_job(job_id, trigger))

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.wait(self.rng.uniform(0, 2 * self.pause))
                self._wake.clear()
                while not self._urgent.empty() and not self._stop.is_set():
                    self.hurried(*self._urgent.get())
                if not self._stop.is_set():
                    self.step()
        except BaseException as exc:  # raised again by stop(), in the test's thread
            self._error = exc
        finally:
            connections.close_all()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="chaos-editor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(120)
            assert not self._thread.is_alive(), "the editor did not stop"
        if self._error is not None:
            raise self._error


# The faults.


@dataclass
class Group:
    """The scheduler processes, replaced as they are killed or stopped."""

    stack: ExitStack
    size: int
    procs: list[ManageCommand] = field(default_factory=list)  # those alive
    started: list[ManageCommand] = field(default_factory=list)  # every one, for its output

    def fill(self) -> None:
        self.procs = [p for p in self.procs if p.process is not None and p.process.poll() is None]
        while len(self.procs) < self.size:
            proc = scheduler_process(KILLS_EXECUTORS=json.dumps(EXECUTORS))
            self.procs.append(self.stack.enter_context(proc))
            self.started.append(proc)

    def of(self, pid: int | None) -> ManageCommand | None:
        return next((p for p in self.procs if p.process and p.process.pid == pid), None)

    def leader(self, timeout: float = 60) -> ManageCommand:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.of(leader_pid())
            if proc is not None:
                return proc
            time.sleep(0.1)
        raise AssertionError("no scheduler of the group holds the lease")


def long_freeze(group: Group, rng: random.Random, editor: Editor, *, anywhere: bool) -> str:
    """SIGSTOP the leader for several seconds past its lease, then SIGCONT. With `anywhere`,
    at whatever it is doing (on SQLite, maybe inside a write: everyone waits then); else only
    where it holds no SQLite lock (``freeze``).

    It is frozen right after it claimed an occurrence ahead of its instant (within 10 s), and
    at once the editor computes again from now the next run of the schedules whose coming
    occurrence it claimed so: the edit races the claim.
    """
    proc = group.leader()
    deadline = time.monotonic() + 10
    while not claimed_ahead() and time.monotonic() < deadline:
        time.sleep(0.01)
    if anywhere:
        proc.signal(signal.SIGSTOP)
    else:
        freeze(proc)
    ahead = claimed_ahead()
    editor.hurry(ahead)
    progress(f"chaos: froze the leader with {len(ahead)} occurrences claimed ahead")
    time.sleep(TTL + rng.uniform(2, 5))
    proc.signal(signal.SIGCONT)
    return "freeze anywhere" if anywhere else "freeze outside a write"


def claimed_ahead() -> list[tuple[str, datetime]]:
    """The schedules with an occurrence claimed and not yet due, with its fire time."""
    return list(
        Execution.objects.filter(
            job_id__startswith=PREFIX, status__in=LIVE, fire_time__gt=datetime.now(UTC)
        )
        .exclude(kind="manual")
        .values_list("job_id", "fire_time")
    )


def kill_leader(group: Group, rng: random.Random) -> str:
    group.leader().signal(signal.SIGKILL)
    return "SIGKILL of the leader"


def term_one(group: Group, rng: random.Random) -> str:
    """SIGTERM a scheduler, the leader or a standby."""
    rng.choice(group.procs).signal(signal.SIGTERM)
    return "SIGTERM"


def run_chaos(
    group: Group, rng: random.Random, editor: Editor, faults: list[str], seconds: float
) -> Counter[str]:
    """Inject `faults` (names: freeze, freeze_anywhere, kill, term) in turn, spread over
    `seconds`, refilling the group after each; return what was injected."""
    actions: dict[str, Callable[[Group, random.Random], str]] = {
        "freeze": lambda g, r: long_freeze(g, r, editor, anywhere=False),
        "freeze_anywhere": lambda g, r: long_freeze(g, r, editor, anywhere=True),
        "kill": kill_leader,
        "term": term_one,
    }
    done: Counter[str] = Counter()
    end = time.monotonic() + seconds
    for i, name in enumerate(faults):
        gap = (end - time.monotonic()) / (len(faults) - i + 1)
        time.sleep(max(gap, 0.5))
        done[actions[name](group, rng)] += 1
        time.sleep(1.0)
        group.fill()
        progress(f"chaos: {i + 1}/{len(faults)} faults ({name})")
    time.sleep(max(end - time.monotonic(), 0))
    return done


# The oracle.


@dataclass
class Verdict:
    expected: int = 0  # occurrences that fell due over the run, by the triggers and the edits
    recorded: int = 0  # of those, with an Execution of their own
    in_missed: int = 0  # of those, inside a missed range
    lost: list[tuple[str, datetime]] = field(default_factory=list)
    duplicates: list[tuple[str, datetime, int]] = field(default_factory=list)
    extra: list[tuple[str, datetime, str]] = field(default_factory=list)
    miscounted: list[tuple[str, datetime, int, int]] = field(default_factory=list)
    off_course: list[tuple[str, str]] = field(default_factory=list)
    manual_missing: int = 0
    onto_recorded: int = 0  # edits that set next_run_at to an occurrence recorded already
    statuses: Counter[str] = field(default_factory=Counter)

    def figures(self, figures: Figures) -> None:
        figures.firings += self.expected
        figures.lost += len(self.lost)
        figures.duplicates += len(self.duplicates)
        figures.notes.update(
            {
                "recorded": self.recorded,
                "in_missed_ranges": self.in_missed,
                "statuses": dict(self.statuses),
                "extra": len(self.extra),
                "miscounted": len(self.miscounted),
                "off_course": len(self.off_course),
                "manual_missing": self.manual_missing,
                "edits_onto_recorded": self.onto_recorded,
            }
        )

    def problems(self) -> dict[str, Any]:
        return {
            name: value[:10]
            for name, value in {
                "lost": self.lost,
                "duplicates": self.duplicates,
                "extra": self.extra,
                "miscounted": self.miscounted,
                "off_course": self.off_course,
            }.items()
            if value
        } | ({"manual_missing": self.manual_missing} if self.manual_missing else {})


def _walk(trigger: Any, start: datetime | None, end: datetime | None) -> Iterator[datetime]:
    """The trigger's fire times from `start` (one of them) up to `end` excluded (to the end
    of the trigger when None), as the claims step them (``planner.plan_schedule``)."""
    fire = start
    for _ in range(100_000):
        if fire is None or (end is not None and fire >= end):
            return
        yield fire
        nxt = trigger.get_next_fire_time(fire, fire)
        fire = None if nxt is None else nxt.astimezone(UTC)
    raise AssertionError(f"a walk from {start} to {end} did not end")


def expected_occurrences(
    job_id: str, edits: list[Edit], final: State | None, verdict: Verdict
) -> set[datetime]:
    """The occurrences of one schedule the claims stepped over between its edits."""
    expected: set[datetime] = set()
    ends = [e.before for e in edits[1:]] + [final]
    for edit, end in zip(edits, ends, strict=True):
        state = edit.after
        if state is None:
            continue  # removed; a later edit may not bring it back (ids are not reused)
        assert end is not None, f"{job_id}: a removed schedule was edited"
        if not state.enabled:
            if end.next_run_at != state.next_run_at:
                verdict.off_course.append((job_id, f"moved while paused after {edit.action}"))
            continue
        if state.trigger is None or end.trigger != state.trigger:
            verdict.off_course.append((job_id, f"trigger changed unlogged after {edit.action}"))
            continue
        trigger = trigger_from_dict(state.trigger)
        walked = list(_walk(trigger, state.next_run_at, end.next_run_at))
        if (
            end.next_run_at is not None
            and walked
            and end.next_run_at
            not in set(_walk(trigger, walked[-1], end.next_run_at + timedelta(microseconds=1)))
        ):
            verdict.off_course.append((job_id, f"next run {end.next_run_at} is not a fire time"))
        expected.update(walked)
    return expected


def check(editor: Editor) -> Verdict:
    """Compare the Executions with the occurrences the triggers and the edits call for."""
    verdict = Verdict()
    by_job: dict[str, list[Edit]] = defaultdict(list)
    for edit in editor.edits:
        by_job[edit.job_id].append(edit)
    finals = {
        job: State(n, e, t)
        for job, n, e, t in Schedule.objects.filter(job_id__startswith=PREFIX).values_list(
            "job_id", "next_run_at", "enabled", "trigger"
        )
    }
    rows: dict[str, list[tuple[datetime, str, str, str]]] = defaultdict(list)
    created: dict[tuple[str, datetime], datetime] = {}
    for job, fire, kind, status, reason, at in Execution.objects.filter(
        job_id__startswith=PREFIX
    ).values_list("job_id", "fire_time", "kind", "status", "reason", "created_at"):
        verdict.statuses[status] += 1
        rows[job].append((fire, kind, status, reason))
        created[(job, fire)] = at
    for edit in editor.edits:
        landed = edit.after and edit.after.next_run_at
        if landed and created.get((edit.job_id, landed), edit.at) < edit.at:
            verdict.onto_recorded += 1
    manual_ids = set(
        Execution.objects.filter(kind="manual", pk__in=[pk for _, pk in editor.manual]).values_list(
            "pk", flat=True
        )
    )
    verdict.manual_missing = len(editor.manual) - len(manual_ids)
    for job, edits in by_job.items():
        expected = expected_occurrences(job, edits, finals.get(job), verdict)
        verdict.expected += len(expected)
        records: Counter[datetime] = Counter()
        for fire, kind, status, reason in rows.get(job, []):
            if kind == "manual":
                continue
            found = _MISSED.match(reason) if status == "missed" else None
            if found is not None:  # a run of misfired occurrences (else: its own, missed at start)
                first = datetime.fromisoformat(found[3])
                last = datetime.fromisoformat(found[4])
                covered = [f for f in expected if first <= f <= last]
                if first not in expected:
                    verdict.extra.append((job, fire, f"missed range from {first}"))
                if not found[1] and int(found[2]) != len(covered):
                    verdict.miscounted.append((job, first, int(found[2]), len(covered)))
                records.update(covered)
                verdict.in_missed += len(covered)
                continue
            if fire not in expected:
                verdict.extra.append((job, fire, f"{kind} {status}"))
            records[fire] += 1
            verdict.recorded += 1
        for fire in sorted(expected):
            if records[fire] == 0:
                verdict.lost.append((job, fire))
            elif records[fire] > 1:
                verdict.duplicates.append((job, fire, records[fire]))
    return verdict


def lost_context(editor: Editor, verdict: Verdict) -> list[str]:
    """The edits and Executions around each lost or extra occurrence, for the failure
    message."""
    wrong = [("lost", job, fire) for job, fire in verdict.lost[:5]]
    wrong += [(f"extra ({why})", job, fire) for job, fire, why in verdict.extra[:5]]
    lines = []
    for what, job, fire in wrong:
        lines.append(f"{what} {job} {fire.isoformat()}:")
        for edit in editor.edits:
            if edit.job_id == job:
                before = edit.before and edit.before.next_run_at
                after = edit.after and edit.after.next_run_at
                lines.append(f"  {edit.at:%H:%M:%S.%f} {edit.action}: {before} -> {after}")
        for row in (
            Execution.objects.filter(job_id=job)
            .order_by("fire_time")
            .values_list("fire_time", "kind", "status", "reason", "epoch", "created_at")
        ):
            lines.append(f"  row {row}")
    return lines
