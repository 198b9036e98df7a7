"""The fault cases, shared by the tests (short form) and ``benchmarks/faults.py`` (full length).

Each case starts real ``runscheduler`` processes on schedules of the ledger job
(``tests/faults/jobs.py``), injects its fault, and then accounts for every occurrence. What is
counted, exactly (docs/guarantees.md#tested):

- an *occurrence* is a fire time of a schedule's trigger in the window of the run;
- a *run* is a line of the ledger: the job really started, outside the database;
- a *duplicate* is an occurrence with more than one Execution (its own row, or a ``missed``
  row whose range covers it), or an Execution that ran more than once (two ledger lines);
- an occurrence is *lost* when it has no Execution, or its Execution does not tell the truth
  in the end: ``succeeded`` with exactly one ledger line, or ``missed``/``skipped`` with a
  reason and no ledger line. Anything else (``pending`` or ``running`` at the end, ``failed``
  or ``lost`` when the job cannot fail, a run the row does not show) counts as lost.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django_schedules.conf import conf
from django_schedules.models import Execution, ExecutionStatus, Schedule, SchedulerLease
from django_schedules.triggers import IntervalTrigger
from tests.faults.servers import PrivateServer
from tests.processes import ManageCommand

POLL = 0.2  # --poll-interval of the scheduler processes
TTL = 3.0  # --lease-ttl
JOB = "faults.ledger"
SETTLE = 60.0  # seconds an unfinished occurrence may take to settle after the window ends

_MISSED = re.compile(
    r"^(?:more than )?(?P<count>\d+) occurrences? missed from (?P<first>\S+) to (?P<last>\S+)"
)


@dataclass
class Figures:
    """What one run of a case measured."""

    case: str
    database: str
    schedules: int = 0
    occurrences: int = 0
    runs: int = 0
    faults: int = 0
    duplicates: int = 0
    lost: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # the first few, for a failure message
    notes: dict[str, Any] = field(default_factory=dict)

    def explain(self) -> str:
        """The figures, the first problems and the errors the schedulers logged."""
        notes = {k: v for k, v in self.notes.items() if k != "outputs"}
        lines = [
            f"{self.case} on {self.database}: {self.occurrences} occurrences, {self.runs} runs, "
            f"{self.faults} faults, {self.duplicates} duplicates, {self.lost} lost; "
            f"statuses {dict(self.statuses)}; {notes}",
            *self.problems,
        ]
        tail = [out[-3000:] for out in self.notes.get("outputs", [])]
        return "\n".join([*lines, "--- scheduler output (tail) ---", *tail])


def utcnow() -> datetime:
    return datetime.now(UTC)


def wait_until(
    predicate: Callable[[], bool], timeout: float, check: Callable[[], None] = lambda: None
) -> bool:
    """Poll until `predicate()` or `timeout` seconds, calling `check()` (which may raise) on
    each poll; return whether it came true."""
    deadline = time.monotonic() + timeout
    while check() or not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def make_schedules(
    prefix: str,
    count: int,
    start: datetime,
    interval: float,
    ledger: Path,
    using: str,
    **fields: Any,
) -> list[str]:
    """`count` interval schedules of the ledger job, first due at `start`; return their ids."""
    trigger = IntervalTrigger(seconds=interval, start_date=start).to_dict()
    # A backlog the fault causes queues up rather than being skipped, so every run is tried.
    fields.setdefault("max_instances", 1000)
    fields.setdefault("misfire_grace_time", 60)
    ids = [f"{prefix}-{i:04d}" for i in range(count)]
    Schedule.objects.using(using).bulk_create(
        Schedule(
            job_id=job_id,
            func=JOB,
            kwargs={"path": str(ledger)},
            trigger=trigger,
            trigger_kind="interval",
            next_run_at=start,
            **fields,
        )
        for job_id in ids
    )
    return ids


def scheduler(*args: str, **env: str) -> ManageCommand:
    """A `runscheduler` process with the fault settings (start it with `with`)."""
    command = ManageCommand(
        "runscheduler", "--poll-interval", str(POLL), "--lease-ttl", str(TTL), *args
    )
    command.env.update({"DJANGO_SETTINGS_MODULE": "tests.faults.settings", **env})
    # As a deploy would: wait out the shutdown grace that runs still in flight may take (their
    # writes retried through the faults) before calling the stop a failure.
    command.grace = conf.SCHEDULES_SHUTDOWN_GRACE + 15
    return command


def begin(
    prefix: str,
    count: int,
    firings: int,
    interval: float,
    ledger: Path,
    using: str,
    check: Callable[[], None],
    **fields: Any,
) -> tuple[list[str], datetime, datetime]:
    """Once a scheduler holds the lease, make the schedules, first due two seconds later (a
    loaded machine's slow start-up must not turn the first occurrences into misfires); return
    their ids and the window of their `firings` occurrences."""
    held = SchedulerLease.objects.using(using).exclude(owner="")
    if not wait_until(held.exists, 60, check):
        raise AssertionError("no scheduler took the lease within 60 s")
    start = utcnow().replace(microsecond=0) + timedelta(seconds=2)
    end = start + timedelta(seconds=interval * (firings - 1))
    return make_schedules(prefix, count, start, interval, ledger, using, **fields), start, end


def alive(proc: ManageCommand) -> bool:
    return proc.process is not None and proc.process.poll() is None


def watch(procs: list[ManageCommand]) -> Callable[[], None]:
    """A check that raises when one of `procs` exited on its own (it must never)."""

    def check() -> None:
        for proc in procs:
            if not alive(proc):
                raise AssertionError(f"a scheduler exited during the run:\n{proc.output()[-4000:]}")

    return check


def errors_in(output: str) -> list[str]:
    """Lines of a scheduler's output that report an error (or a traceback)."""
    return [
        line
        for line in output.splitlines()
        if "Traceback" in line or " ERROR " in line or line.startswith(("ERROR", "CRITICAL"))
    ]


@contextmanager
def running(procs: list[ManageCommand], figures: Figures) -> Iterator[Callable[[], None]]:
    """Run `procs` for the body; then SIGTERM them and record their exits and errors."""
    for proc in procs:
        proc.__enter__()
    try:
        yield watch(procs)
    finally:
        codes = [proc.stop() for proc in procs]  # SIGTERM, as a deploy stops it
        outputs = [proc.output() for proc in procs]
        for proc in procs:
            proc.__exit__(None, None, None)
        figures.notes["exit codes"] = codes
        figures.notes["errors logged"] = [line for out in outputs for line in errors_in(out)]
        figures.notes["outputs"] = outputs


def settled(job_ids: list[str], end: datetime, using: str) -> bool:
    """Every occurrence up to `end` is recorded and none of them is waiting or running (the
    schedules fire on past `end`: their later occurrences may be running at any moment).

    The schedules are read first, the rows after: a claim commits a schedule's move and its
    rows together, so rows read after the move was seen include those it inserted. The other
    order could read the rows just before a late claim committed and the schedules just
    after, and call a run settled whose last rows had only then been inserted, pending (a
    loaded CI machine did, on SQLite and on MariaDB)."""
    behind = Schedule.objects.using(using).filter(
        job_id__in=job_ids, enabled=True, next_run_at__lte=end
    )
    if behind.exists():
        return False
    rows = Execution.objects.using(using).filter(job_id__in=job_ids, fire_time__lte=end)
    open_ = rows.filter(status__in=[ExecutionStatus.PENDING, ExecutionStatus.RUNNING])
    return not open_.exists()


def occurrences(start: datetime, end: datetime, interval: float) -> list[datetime]:
    n = int((end - start).total_seconds() // interval) + 1
    return [start + timedelta(seconds=k * interval) for k in range(n)]


def read_ledger(ledger: Path) -> Counter[int]:
    """Runs per execution id (each line: ``<execution id> <attempt> <fire time>``)."""
    if not ledger.exists():
        return Counter()
    return Counter(int(line.split()[0]) for line in ledger.read_text().splitlines() if line)


def account(
    figures: Figures,
    job_ids: list[str],
    start: datetime,
    end: datetime,
    interval: float,
    ledger: Path,
    using: str,
) -> Figures:
    """Fill `figures` with the occurrences, runs, duplicates and lost ones (module docstring)."""
    expected = occurrences(start, end, interval)
    rows = list(
        Execution.objects.using(using)
        .filter(job_id__in=job_ids, fire_time__gte=start, fire_time__lte=end)
        .values_list("pk", "job_id", "fire_time", "status", "reason", "started_at")
    )
    runs = read_ledger(ledger)
    late = [(began - fire).total_seconds() for *_, fire, _, _, began in rows if began]
    figures.notes["latest start (s)"] = round(max(late, default=0.0), 3)
    cover: Counter[tuple[str, datetime]] = Counter()
    good: set[tuple[str, datetime]] = set()
    for pk, job_id, fire, status, reason, _started in rows:
        fire = fire.astimezone(UTC)
        figures.statuses[status] += 1
        covered = [fire]
        if status == ExecutionStatus.MISSED:
            covered = _missed_range(reason, expected) or covered
        for each in covered:
            cover[(job_id, each)] += 1
        ran = runs.get(pk, 0)
        truthful = (status == ExecutionStatus.SUCCEEDED and ran == 1) or (
            status in (ExecutionStatus.MISSED, ExecutionStatus.SKIPPED) and reason and ran == 0
        )
        if truthful:
            good.update((job_id, each) for each in covered)
        elif len(figures.problems) < 10:
            figures.problems.append(
                f"{job_id} {fire.isoformat()}: {status} ({reason!r}), ran {ran}x"
            )
    figures.schedules = len(job_ids)
    figures.occurrences = len(job_ids) * len(expected)
    ids = {pk for pk, *_ in rows}
    figures.runs = sum(n for pk, n in runs.items() if pk in ids)
    figures.duplicates = sum(n - 1 for n in cover.values() if n > 1) + sum(
        n - 1 for pk, n in runs.items() if n > 1 and pk in ids
    )
    wanted = {(job_id, fire) for job_id in job_ids for fire in expected}
    figures.lost = len(wanted - good)
    for job_id, fire in sorted(wanted - set(cover))[: 10 - len(figures.problems)]:
        figures.problems.append(f"{job_id} {fire.isoformat()}: no Execution")
    return figures


def _missed_range(reason: str, expected: list[datetime]) -> list[datetime]:
    """The occurrences a ``missed`` row stands for, from its reason."""
    match = _MISSED.match(reason)
    if match is None:
        return []
    first = datetime.fromisoformat(match["first"]).astimezone(UTC)
    last = datetime.fromisoformat(match["last"]).astimezone(UTC)
    return [fire for fire in expected if first <= fire <= last]


def faults_in(log: Path) -> int:
    from tests.faults.injector import count_faults

    return sum(count_faults(log).values())


# --- 1. A flaky database ---


def flaky_database(
    tmp: Path,
    *,
    database: str,
    schedules: int,
    firings: int,
    rate: float = 0.2,
    seed: int = 1,
    interval: float = 1.0,
    using: str = "default",
    progress: Callable[[str], None] = lambda message: None,
) -> Figures:
    """`schedules` schedules fire `firings` times each while every statement of the scheduler
    process fails with probability `rate`, before it is sent or right after its COMMIT."""
    figures = Figures("flaky database", database)
    ledger, faults = tmp / "ledger.txt", tmp / "faults.txt"
    env = {"FAULTS_RATE": str(rate), "FAULTS_SEED": str(seed), "FAULTS_LOG": str(faults)}
    began = time.monotonic()
    with running([scheduler(**env)], figures) as check:
        job_ids, start, end = begin("flaky", schedules, firings, interval, ledger, using, check)
        progress(f"flaky database: {schedules} schedules x {firings} firings, seed {seed}")
        timeout = (end - utcnow()).total_seconds() + SETTLE
        done = lambda: utcnow() > end and settled(job_ids, end, using)  # noqa: E731
        figures.notes["settled"] = wait_until(done, timeout, check)  # else `account` says why
    figures.seconds = time.monotonic() - began
    figures.faults = faults_in(faults)
    figures.notes["seed"] = seed
    return account(figures, job_ids, start, end, interval, ledger, using)


# --- 3. A long write transaction holds the lock ---

LOCKED = "database is locked"


@contextmanager
def write_lock(using: str) -> Iterator[None]:
    """Hold a write transaction on its own connection: on SQLite ``BEGIN IMMEDIATE`` (the
    file's write lock), elsewhere the lease row and every schedule row ``FOR UPDATE``."""
    from django.db import connections

    wrapper = connections[using]
    raw = wrapper.get_new_connection(wrapper.get_connection_params())
    try:
        cursor = raw.cursor()
        if wrapper.vendor == "sqlite":
            raw.isolation_level = None  # we send BEGIN ourselves
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("UPDATE django_schedules_schedule SET updated_at = updated_at")
        else:
            if wrapper.vendor == "postgresql":
                raw.autocommit = False
            else:
                raw.autocommit(False)
            cursor.execute("SELECT id FROM django_schedules_schedulerlease FOR UPDATE")
            cursor.execute("SELECT id FROM django_schedules_schedule FOR UPDATE")
        cursor.fetchall()
        yield
        if wrapper.vendor == "sqlite":
            cursor.execute("COMMIT")
        else:
            raw.commit()
        cursor.close()
    finally:
        raw.close()


def held_write_lock(
    tmp: Path,
    *,
    database: str,
    schedules: int,
    firings: int,
    hold: float = 10.0,
    interval: float = 1.0,
    using: str = "default",
    progress: Callable[[str], None] = lambda message: None,
) -> Figures:
    """Another connection holds a write transaction for `hold` seconds in the middle of the
    run; the scheduler process keeps Django's default SQLite busy timeout (5 s), so the lock
    outlasts it twice over."""
    figures = Figures(f"write lock held {hold:g} s", database)
    ledger = tmp / "ledger.txt"
    firings = max(firings, int((hold + 4) / interval))  # the window covers the hold
    began = time.monotonic()
    with running([scheduler(FAULTS_SQLITE_TIMEOUT="5")], figures) as check:
        job_ids, start, end = begin("lock", schedules, firings, interval, ledger, using, check)
        fired = Execution.objects.using(using).filter(job_id__in=job_ids)
        wait_until(fired.exists, 60, check)
        progress(f"{figures.case}: {schedules} schedules x {firings} firings; holding the lock")
        with write_lock(using):
            figures.faults = 1
            until = time.monotonic() + hold
            wait_until(lambda: time.monotonic() >= until, hold + 1, check)
        timeout = (end - utcnow()).total_seconds() + SETTLE
        done = lambda: utcnow() > end and settled(job_ids, end, using)  # noqa: E731
        figures.notes["settled"] = wait_until(done, timeout, check)
    figures.seconds = time.monotonic() - began
    outputs = figures.notes.get("outputs", [])
    figures.notes["'database is locked' lines"] = sum(out.count(LOCKED) for out in outputs)
    return account(figures, job_ids, start, end, interval, ledger, using)


# --- 2. The database server restarts ---


def server_restart(
    tmp: Path,
    *,
    server: PrivateServer,
    using: str,
    schedules: int,
    firings: int,
    down: float = 6.0,
    interval: float = 2.0,
    progress: Callable[[str], None] = lambda message: None,
) -> Figures:
    """The server of a running scheduler stops for `down` seconds and starts again. Its
    schedules coalesce (``run_once``, 1 s grace, every `interval` s): the occurrences the
    outage made late come back as one ``missed`` record and one run per schedule."""
    figures = Figures("server restart", server.label)
    ledger = tmp / "ledger.txt"
    firings = max(firings, int((down + 10) / interval))  # the window covers the outage
    began = time.monotonic()
    proc = scheduler(DATABASE_URL=server.url)
    with running([proc], figures) as check:
        coalesce = {"misfire_policy": "run_once", "misfire_grace_time": 1}
        job_ids, start, end = begin(
            "restart", schedules, firings, interval, ledger, using, check, **coalesce
        )
        fired = Execution.objects.using(using).filter(job_id__in=job_ids)
        wait_until(fired.exists, 60, check)
        wait_until(lambda: utcnow() > start + timedelta(seconds=2 * interval), 60, check)
        progress(f"server restart: stopping {server.label} for {down:g} s")
        from django.db import connections

        connections[using].close()
        server.stop()
        figures.faults = 1
        stopped = utcnow()
        wait_until(lambda: utcnow() > stopped + timedelta(seconds=down), down + 1, check)
        # Measured from the start command: start() returns once it sees the server ready,
        # and the scheduler may reconnect before it does (seen: 12 ms before).
        back = utcnow()
        server.start()
        figures.notes["outage (s)"] = round((back - stopped).total_seconds(), 3)
        timeout = (end - utcnow()).total_seconds() + SETTLE
        done = lambda: utcnow() > end and settled(job_ids, end, using)  # noqa: E731
        figures.notes["settled"] = wait_until(done, timeout, check)
    figures.seconds = time.monotonic() - began
    missed = list(  # the outage's: recorded once the server was stopped
        Execution.objects.using(using)
        .filter(job_id__in=job_ids, status=ExecutionStatus.MISSED, created_at__gte=stopped)
        .values_list("job_id", "created_at", "reason")
    )
    figures.notes["missed records per schedule"] = sorted(Counter(j for j, *_ in missed).values())
    resumed = min((created for _, created, _ in missed), default=None)
    figures.notes["resumed after (s)"] = (
        None if resumed is None else round((resumed - back).total_seconds(), 3)
    )
    figures.notes["catch-up runs"] = (
        Execution.objects.using(using).filter(job_id__in=job_ids, kind="catch_up").count()
    )
    account(figures, job_ids, start, end, interval, ledger, using)
    figures.notes["outage runs per schedule"] = _runs_after_gap(job_ids, interval, using)
    return figures


def _runs_after_gap(job_ids: list[str], interval: float, using: str) -> list[int]:
    """Per schedule: runs standing for the outage, the occurrence right after its ``missed``
    range (1 when the gap was coalesced into one run)."""
    rows = Execution.objects.using(using).filter(job_id__in=job_ids)
    counts = []
    for job_id, reason in rows.filter(status=ExecutionStatus.MISSED).values_list(
        "job_id", "reason"
    ):
        match = _MISSED.match(reason)
        if match is None:
            continue
        after = datetime.fromisoformat(match["last"]) + timedelta(seconds=interval)
        counts.append(
            rows.filter(job_id=job_id, fire_time=after, status=ExecutionStatus.SUCCEEDED).count()
        )
    return sorted(counts)
