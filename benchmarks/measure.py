"""One measurement in one process; prints JSON lines on stdout (run.py collects them).

    DJANGO_SETTINGS_MODULE=benchmarks.settings DATABASE_URL=... \\
        benchmarks/.venv/bin/python -m benchmarks.measure idle --n 10000

Systems: ``ours`` (django-schedules), ``beat`` (django-celery-beat DatabaseScheduler),
``aps`` (django-apscheduler: APScheduler 3 BackgroundScheduler with DjangoJobStore), ``q2``
(django-q2's scheduler function with its ORM broker). Each is driven through its own API.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()

from django.db import connection, connections  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from benchmarks import jobs  # noqa: E402
from django_schedules.executors import Executor  # noqa: E402
from django_schedules.models import Execution, Schedule, SchedulerLease  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SYSTEMS = ("ours", "beat", "aps", "q2")
FAR = timedelta(hours=1)


def emit(metric: str, system: str, value: float | None, n: int | None = None, **extra: Any) -> None:
    row = {
        "metric": metric,
        "system": system,
        "db": connection.vendor,
        "n": n,
        "value": value,
        **extra,
    }
    print(json.dumps(row, default=str), flush=True)


def progress(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def percentiles(values: list[float]) -> dict[str, float | int]:
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return {"count": 0}
    return {
        "count": len(ms),
        "p50": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))],
        "max": ms[-1],
    }


class NullExecutor(Executor):
    """Takes claimed executions and does nothing: measures claiming alone (rows stay pending)."""

    def submit(
        self, execution_id: int, epoch: int | None, timeout: float | None, start_in: float = 0.0
    ) -> None:
        return None


# --- populating each system's tables ---


def wipe(*models: Any) -> None:
    """Empty tables with one DELETE each (no per-row signals: beat's cost minutes at 10k)."""
    for model in models:
        model.objects.all()._raw_delete(connection.alias)


def clear(system: str) -> None:
    if system == "ours":
        wipe(Execution, Schedule, SchedulerLease)
    elif system == "beat":
        from django_celery_beat.models import ClockedSchedule, PeriodicTask, PeriodicTasks

        wipe(PeriodicTask, ClockedSchedule)
        PeriodicTasks.update_changed()
    elif system == "aps":
        from django_apscheduler.models import DjangoJob, DjangoJobExecution

        wipe(DjangoJobExecution, DjangoJob)
    elif system == "q2":
        from django_q.models import OrmQ
        from django_q.models import Schedule as QSchedule

        wipe(OrmQ, QSchedule)


def populate(system: str, n: int, due: datetime, *, prefix: str = "bench") -> None:
    """`n` schedules, hourly, all next due at `due` (the peers' rows as their APIs write them)."""
    clear(system)
    batch = 2000
    if system == "ours":
        from django_schedules.api import build_schedule

        template = build_schedule(
            "bench.noop", "interval", hours=1, id="template", start_date=due, now=due
        )
        fields = {
            f.attname: getattr(template, f.attname)
            for f in Schedule._meta.concrete_fields
            if f.attname not in ("id", "job_id", "name", "created_at", "updated_at")
        }
        fields["misfire_grace_time"] = 3600  # a burst slower than a minute still runs all
        fields["next_run_at"] = due
        rows = (Schedule(job_id=f"{prefix}-{i}", name=f"{prefix} {i}", **fields) for i in range(n))
        _bulk(Schedule, rows, n, batch)
    elif system == "beat":
        from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

        every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
        last = due - FAR  # beat's next run is last_run_at + interval
        rows = (
            PeriodicTask(name=f"{prefix}-{i}", task="bench.noop", interval=every, last_run_at=last)
            for i in range(n)
        )
        _bulk(PeriodicTask, rows, n, batch)
        PeriodicTasks.update_changed()
    elif system == "aps":
        from apscheduler.schedulers.background import BackgroundScheduler
        from django_apscheduler.models import DjangoJob

        sched = BackgroundScheduler(timezone="UTC")
        job = sched.add_job(
            jobs.aps_noop,
            "interval",
            hours=1,
            start_date=due,
            id="template",
            next_run_time=due,
            misfire_grace_time=3600,
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
        state = job.__getstate__()

        def build(i: int) -> DjangoJob:
            mine = dict(state, id=f"{prefix}-{i}", name=f"{prefix} {i}")
            return DjangoJob(
                id=mine["id"],
                next_run_time=due,
                job_state=pickle.dumps(mine, pickle.HIGHEST_PROTOCOL),
            )

        _bulk(DjangoJob, (build(i) for i in range(n)), n, batch)
    elif system == "q2":
        from django_q.models import Schedule as QSchedule

        rows = (
            QSchedule(
                name=f"{prefix}-{i}",
                func="benchmarks.jobs.q_noop",
                schedule_type=QSchedule.HOURLY,
                repeats=-1,
                next_run=due,
            )
            for i in range(n)
        )
        _bulk(QSchedule, rows, n, batch)


def _bulk(model: Any, rows: Any, n: int, batch: int) -> None:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch:
            model.objects.bulk_create(chunk)
            chunk = []
    if chunk:
        model.objects.bulk_create(chunk)


def cmd_populate(options: argparse.Namespace) -> None:
    due = datetime.now(UTC) + (FAR if options.due == "later" else timedelta(seconds=-1))
    for system in options.systems.split(","):
        began = time.perf_counter()
        populate(system, options.n, due)
        progress(f"{system}: {options.n} schedules in {time.perf_counter() - began:.1f}s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


# --- the peers' scheduler objects ---


def celery_app() -> Any:
    from celery import Celery

    app = Celery("bench", broker="memory://", set_as_current=True)
    app.conf.timezone = "UTC"
    app.conf.beat_scheduler = "django_celery_beat.schedulers:DatabaseScheduler"
    return app


def beat_scheduler() -> Any:
    from django_celery_beat.schedulers import DatabaseScheduler

    return DatabaseScheduler(app=celery_app())


def aps_scheduler(store: str = "django") -> Any:
    from apscheduler.schedulers.background import BackgroundScheduler
    from django_apscheduler.jobstores import DjangoJobStore

    sched = BackgroundScheduler(timezone="UTC")
    if store == "django":
        sched.add_jobstore(DjangoJobStore(), "default")
    return sched


def aps_jobs(sched: Any, label: str, starts: list[datetime], period: float) -> None:
    """Add to an APScheduler `sched` one interval job per start (the period `period`), each
    recording its lateness under `label` (``jobs.aps_lateness``)."""
    for i, s in enumerate(starts):
        sched.add_job(
            jobs.aps_lateness,
            "interval",
            seconds=period,
            start_date=s,
            args=[label, s.isoformat(), period],
            id=f"{label}-{i}",
            misfire_grace_time=3600,
            max_instances=1,
            replace_existing=True,
        )


def our_scheduler(executor: str = "null", **kwargs: Any) -> Any:
    from django_schedules.scheduler import Scheduler

    executors = {"default": NullExecutor("default", {}, using="default")}
    return Scheduler(executors=executors if executor == "null" else None, **kwargs)


# --- 1. idle tick ---


def idle_tick_fn(system: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    """A function doing one idle wake-up of `system`, and a clean-up."""
    if system == "ours":
        sched = our_scheduler()
        sched.tick()  # takes the lease; later ticks are the steady state
        return sched.tick, sched.lease.release
    if system == "beat":
        beat = beat_scheduler()
        beat.tick()
        return beat.tick, lambda: None
    if system == "aps":
        aps = aps_scheduler()
        aps.start()
        time.sleep(0.2)  # its own thread runs the first pass
        return aps._process_jobs, lambda: aps.shutdown(wait=False)  # its wake-up
    if system == "q2":
        from django_q.brokers import get_broker
        from django_q.scheduler import scheduler

        broker = get_broker()
        return lambda: scheduler(broker=broker), lambda: None
    raise ValueError(system)


def cmd_idle(options: argparse.Namespace) -> None:
    if options.profile:
        profile_idle(options)
        return
    for system in options.systems.split(","):
        tick, done = idle_tick_fn(system)
        try:
            counts = []
            for _ in range(5):
                with CaptureQueriesContext(connection) as queries:
                    tick()
                counts.append(len(queries))
            times = []
            deadline = time.perf_counter() + options.seconds
            while len(times) < 5 or (time.perf_counter() < deadline and len(times) < 200):
                began = time.perf_counter()
                tick()
                times.append(time.perf_counter() - began)
        finally:
            done()
        ms = statistics.median(times) * 1000
        emit("idle_tick_ms", system, ms, options.n, ticks=len(times))
        emit("idle_tick_queries", system, statistics.median(counts), options.n, counts=counts)
        progress(f"{system}: {ms:.3f} ms, {statistics.median(counts):g} queries a tick")


def profile_idle(options: argparse.Namespace) -> None:
    from pyinstrument import Profiler

    tick, done = idle_tick_fn("ours")
    profiler = Profiler(interval=0.0001)
    with profiler:
        for _ in range(200):
            tick()
    done()
    out = Path(options.profile)
    out.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    progress(f"profile: {out}")


# --- 4. memory ---


def cmd_memory(options: argparse.Namespace) -> None:
    system = options.systems
    baseline = peak_rss_mb()
    stop_at = time.monotonic() + options.seconds
    if system == "ours":
        from django_schedules.scheduler import BackgroundScheduler

        bg = BackgroundScheduler()
        bg.start()
        time.sleep(max(stop_at - time.monotonic(), 0))
        bg.shutdown()
    elif system == "beat":
        beat = beat_scheduler()
        while time.monotonic() < stop_at:
            beat.tick()
            time.sleep(0.2)
    elif system == "aps":
        aps = aps_scheduler()
        aps.start()
        while time.monotonic() < stop_at:
            aps.wakeup()
            time.sleep(0.2)
        aps.shutdown()
    elif system == "q2":
        from django_q.brokers import get_broker
        from django_q.scheduler import scheduler

        broker = get_broker()
        while time.monotonic() < stop_at:
            scheduler(broker=broker)
            time.sleep(0.2)
    peak = peak_rss_mb()
    emit("peak_rss_mb", system, peak, options.n, baseline_mb=baseline)
    progress(f"{system}: peak RSS {peak:.1f} MB (after imports {baseline:.1f} MB)")


# --- 2. burst firing ---


def cmd_burst(options: argparse.Namespace) -> None:
    system, n, cap = options.systems, options.n, options.cap
    populate(system, n, datetime.now(UTC) - timedelta(seconds=1))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    fired = 0
    capped = False
    began = time.perf_counter()
    queries = None
    metric = "burst_per_s"
    if system == "ours":
        sched = our_scheduler(lease_ttl=max(cap * 2, 15))
        sched.lease.acquire()
        if options.profile:
            # A separate run: the profiler and the query log slow it down.
            from pyinstrument import Profiler

            metric = "burst_profiled_per_s"
            profiler = Profiler(interval=0.0005)
            began = time.perf_counter()
            with profiler, CaptureQueriesContext(connection) as captured:
                while sched.tick() == 0.0:
                    pass
            elapsed = time.perf_counter() - began
            queries = len(captured)
            Path(options.profile).write_text(
                profiler.output_text(unicode=False, color=False, show_all=False)
            )
        else:

            def fire_all() -> None:
                try:
                    while sched.tick() == 0.0:
                        pass
                finally:
                    connections.close_all()

            worker = threading.Thread(target=fire_all, daemon=True)
            began = time.perf_counter()
            worker.start()
            worker.join(timeout=cap)
            elapsed = time.perf_counter() - began
            capped = worker.is_alive()
        fired = Execution.objects.count()
        if not capped:
            left = Schedule.objects.filter(next_run_at__lte=datetime.now(UTC)).count()
            sched.lease.release()
            assert left == 0, f"{left} schedules not advanced"
    elif system == "beat":
        from celery import signals

        sent = [0]

        def on_publish(**kwargs: Any) -> None:
            sent[0] += 1

        signals.before_task_publish.connect(on_publish, weak=False)
        beat = beat_scheduler()
        began = time.perf_counter()
        while sent[0] < n:
            if time.perf_counter() - began > cap:
                capped = True
                break
            beat.tick()
        beat.sync()  # beat writes last_run_at back here: the "next run advanced" step
        elapsed = time.perf_counter() - began
        fired = sent[0]
    elif system == "aps":
        from django_apscheduler.models import DjangoJob, DjangoJobExecution

        aps = aps_scheduler()
        now = datetime.now(UTC)
        began = time.perf_counter()
        aps.start()
        while True:
            time.sleep(0.05)
            fired = DjangoJobExecution.objects.count()
            waiting = DjangoJob.objects.filter(next_run_time__lte=now).count()
            if fired >= n and waiting == 0:
                break
            if time.perf_counter() - began > cap:
                capped = True
                break
        elapsed = time.perf_counter() - began
        if not capped:  # shutdown() waits for the pass in progress: all the due jobs
            aps.shutdown(wait=False)
    elif system == "q2":
        from django_q.brokers import get_broker
        from django_q.models import OrmQ
        from django_q.scheduler import scheduler

        broker = get_broker()
        began = time.perf_counter()
        scheduler(broker=broker)
        elapsed = time.perf_counter() - began
        fired = OrmQ.objects.count()
    rate = fired / elapsed if elapsed > 0 else None
    emit(
        metric,
        system,
        rate,
        n,
        seconds=elapsed,
        fired=fired,
        capped=capped,
        queries=queries,
    )
    note = f" (capped at {cap:g}s, {fired} of {n})" if capped else ""
    progress(f"{system}: {fired} in {elapsed:.2f}s = {rate or 0:,.0f}/s{note}")
    if capped:
        # Its scheduler thread would go on firing the rest before the process could exit.
        sys.stdout.flush()
        os._exit(0)


# --- 3. lateness ---


def cmd_lateness(options: argparse.Namespace) -> None:
    """One schedule on a 1-second interval, then `spread` schedules over `window` seconds on a
    `window`-second interval; each system alone (the single case: all side by side)."""
    from benchmarks import lateness as shared  # its "bench.lateness" job and summary()
    from django_schedules.scheduler import BackgroundScheduler
    from django_schedules.triggers import IntervalTrigger

    def ours_rows(label: str, starts: list[datetime], period: float) -> None:
        clear("ours")
        rows = [
            Schedule(
                job_id=f"late-{i}",
                func="bench.lateness",
                kwargs={"label": label},
                trigger=IntervalTrigger(seconds=period, start_date=s, timezone="UTC").to_dict(),
                trigger_kind="interval",
                next_run_at=s,
            )
            for i, s in enumerate(starts)
        ]
        Schedule.objects.bulk_create(rows, batch_size=2000)

    from django_schedules.scheduler import Scheduler

    lookahead = Scheduler(executors={}).lookahead  # the default the report names
    cases = [("single", 1, 1.0, options.fires)]
    if options.spread:
        cases.append(("spread", options.spread, options.window, 1))
    for case, count, period, rounds in cases:
        duration = period * rounds
        which = ["ours", "aps-memory", "aps"]
        groups = [which] if case == "single" else [[s] for s in which]
        for group in groups:
            # Time to add every job first (django-apscheduler: one INSERT each).
            lead = 3 + count * (0.003 if "aps" in group else 0.0005)
            start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
            step = period / count
            starts = [start + timedelta(seconds=i * step) for i in range(count)]
            running: list[Callable[[], None]] = []
            if "aps" in group:
                clear("aps")
                aps = aps_scheduler("django")
                aps.start(paused=True)
                aps_jobs(aps, f"{case}:aps", starts, period)
                aps.resume()
                running.append(lambda a=aps: a.shutdown(wait=False))
            if "aps-memory" in group:
                mem = aps_scheduler("memory")
                aps_jobs(mem, f"{case}:aps-memory", starts, period)
                mem.start()
                running.append(lambda m=mem: m.shutdown(wait=False))
            if "ours" in group:
                ours_rows(f"{case}:ours", starts, period)
                bg = BackgroundScheduler()
                bg.start()
                running.append(bg.shutdown)
            progress(f"{case}: {', '.join(group)}: {count} schedules, {duration:g}s")
            end = start + timedelta(seconds=duration - period / count / 2)
            time.sleep(max((end - datetime.now(UTC)).total_seconds(), 0) + 0.5)
            for stop in running:
                stop()
            for system in group:
                label = f"{case}:{system}"
                late = (shared.SAMPLES if system == "ours" else jobs.STARTS).get(label, [])
                late = late[: count * rounds]  # the first round only (the wait runs over)
                stats = percentiles(late)
                emit(
                    f"lateness_{case}",
                    system,
                    stats.get("p99"),
                    count,
                    expected=count * rounds,
                    lookahead=lookahead,
                    **stats,
                )
                progress(shared.summary(label, late))
        clear("ours")
        clear("aps")


# --- 5. change pickup (and idle wake-ups of our loop) ---


def cmd_pickup(options: argparse.Namespace) -> None:
    import random

    from django_schedules import api
    from django_schedules.scheduler import BackgroundScheduler

    # Ours: a schedule due in an hour; an API change (what the admin's save does) makes it
    # due now; the time until the job starts.
    clear("ours")
    api.add_job("bench.record_start", "interval", hours=1, id="pick", kwargs={"label": "pick"})
    bg = BackgroundScheduler()
    ticks = [0]
    original = bg.scheduler.tick

    def counting() -> float:
        ticks[0] += 1
        return original()

    bg.scheduler.tick = counting  # type: ignore[method-assign]
    bg.start()
    time.sleep(1.5)
    before, began = ticks[0], time.monotonic()
    time.sleep(options.idle)
    woke = (ticks[0] - before) / (time.monotonic() - began) * 60
    emit(
        "idle_wakeups_per_min",
        "ours",
        woke,
        1,
        poll_interval=bg.scheduler.poll_interval,
        lease_ttl=bg.scheduler.lease_ttl,
    )
    progress(f"ours: {woke:.0f} wake-ups a minute while idle")
    samples = []
    for _ in range(options.samples):
        time.sleep(random.uniform(0.2, 0.8))
        seen = len(jobs.STARTS.get("pick:start", []))
        api.modify_job("pick", next_run_time=datetime.now(UTC))
        committed = time.time()
        deadline = time.monotonic() + 5
        while len(jobs.STARTS.get("pick:start", [])) <= seen and time.monotonic() < deadline:
            time.sleep(0.001)
        starts = jobs.STARTS.get("pick:start", [])
        if len(starts) > seen:
            samples.append(starts[-1] - committed)
    bg.shutdown()
    stats = percentiles(samples)
    emit("pickup", "ours", stats.get("max"), 1, **stats)
    progress(f"ours: {stats}")

    # django-celery-beat: its DatabaseScheduler run by beat's own Service loop; a new one-off
    # clocked task saved as the admin saves it; the time until beat publishes it.
    from celery import beat as celery_beat
    from celery import signals
    from django_celery_beat.models import ClockedSchedule, PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    clear("beat")
    published: list[float] = []

    def on_publish(**kwargs: Any) -> None:
        published.append(time.time())

    signals.before_task_publish.connect(on_publish, weak=False)
    service = celery_beat.Service(celery_app(), scheduler_cls=DatabaseScheduler)
    thread = threading.Thread(target=service.start, kwargs={"embedded_process": True})
    thread.daemon = True
    thread.start()
    time.sleep(1.0)
    samples = []
    for i in range(options.beat_samples):
        time.sleep(random.uniform(0.2, 1.0))
        seen = len(published)
        clocked = ClockedSchedule.objects.create(clocked_time=datetime.now(UTC))
        PeriodicTask.objects.create(
            name=f"pick-{i}", task="bench.noop", clocked=clocked, one_off=True
        )
        committed = time.time()
        deadline = time.monotonic() + 12
        while len(published) <= seen and time.monotonic() < deadline:
            time.sleep(0.005)
        if len(published) > seen:
            samples.append(published[-1] - committed)
    service.stop()
    stats = percentiles(samples)
    emit("pickup", "beat", stats.get("max"), 1, **stats)
    progress(f"beat: {stats}")

    # django-apscheduler: its scheduler sleeps until the next run time it knows; a change
    # written to DjangoJob by another process (the web process) is not seen.
    from django_apscheduler.jobstores import DjangoJobStore

    clear("aps")
    aps = aps_scheduler()
    aps.add_job(
        jobs.aps_lateness,
        "interval",
        hours=1,
        args=["pick:aps", datetime.now(UTC).isoformat(), 3600.0],
        id="pick",
        replace_existing=True,
    )
    aps.start()
    time.sleep(0.5)
    other = aps_scheduler()  # the "web process" view of the same job store
    store = DjangoJobStore()
    store._scheduler = other
    job = store.lookup_job("pick")
    job.next_run_time = datetime.now(UTC)
    store.update_job(job)
    committed = time.time()
    time.sleep(options.aps_wait)
    starts = jobs.STARTS.get("pick:aps:start", [])
    aps.shutdown(wait=False)
    value = starts[0] - committed if starts else None
    emit("pickup", "aps", value, 1, waited=options.aps_wait, picked_up=bool(starts))
    progress(f"aps: {'picked up' if starts else 'not picked up'} in {options.aps_wait:g}s")
    clear("aps")
    clear("beat")
    clear("ours")


# --- 6. failover ---


def cmd_failover(options: argparse.Namespace) -> None:
    from django_schedules import api

    clear("ours")
    api.add_job("bench.noop", "interval", seconds=1, id="failover")
    env = dict(os.environ, PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="benchmarks.settings")
    ttl = str(options.ttl)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "django", "runscheduler", "--lease-ttl", ttl],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def holder_pid() -> int | None:
        owner = SchedulerLease.objects.filter(group="default").values_list("owner", flat=True)
        parts = (owner.first() or "").split(":")
        return int(parts[1]) if len(parts) > 2 else None

    def first_start_by(pid: int, after: float) -> float | None:
        deadline = time.monotonic() + options.ttl * 3 + 10
        since = datetime.fromtimestamp(after, UTC)
        while time.monotonic() < deadline:
            first = (
                Execution.objects.filter(worker__contains=f":{pid}:", started_at__gt=since)
                .order_by("started_at")
                .values_list("started_at", flat=True)
                .first()
            )
            if first is not None:
                return first.timestamp() - after
            time.sleep(0.05)
        return None

    procs = []
    try:
        leader = start()
        procs.append(leader)
        deadline = time.monotonic() + 30
        while holder_pid() != leader.pid and time.monotonic() < deadline:
            time.sleep(0.1)
        for how, sig in (("kill", signal.SIGKILL), ("term", signal.SIGTERM)):
            standby = start()
            procs.append(standby)
            time.sleep(3.0)  # the standby is up and polling
            stopped = time.time()
            leader.send_signal(sig)
            took = first_start_by(standby.pid, stopped)
            leader.wait(timeout=60)
            emit(f"failover_{how}", "ours", took, 1, lease_ttl=options.ttl)
            progress(f"ours: after SIG{how.upper()}: first firing by the standby in {took}s")
            leader = standby
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        connections.close_all()
    clear("ours")


def cmd_q2pickup(options: argparse.Namespace) -> None:
    """django-q2: a real cluster (``manage.py qcluster``); a schedule saved due now; the time
    until its scheduler creates the task (``Schedule.task`` set)."""
    import random

    from django_q.models import Schedule as QSchedule

    clear("q2")
    env = dict(os.environ, PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="benchmarks.settings")
    cluster = subprocess.Popen(
        [sys.executable, "-m", "django", "qcluster"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples = []
    try:
        time.sleep(3.0)  # the cluster is up
        for i in range(options.samples):
            # A random phase of its 30-second cycle (right after a pickup is the worst case).
            time.sleep(random.uniform(0.5, 30.0))
            QSchedule.objects.create(
                name=f"pick-{i}",
                func="benchmarks.jobs.q_noop",
                schedule_type=QSchedule.ONCE,
                repeats=1,
                next_run=datetime.now(UTC),
            )
            committed = time.time()
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                if QSchedule.objects.filter(name=f"pick-{i}", task__isnull=False).exists():
                    samples.append(time.time() - committed)
                    break
                time.sleep(0.05)
    finally:
        cluster.send_signal(signal.SIGTERM)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cluster.kill()
    stats = percentiles(samples)
    emit("pickup", "q2", stats.get("max"), 1, **stats)
    progress(f"q2: {stats}")
    clear("q2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "command",
        choices=[name[4:] for name in globals() if name.startswith("cmd_")],
    )
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--due", choices=["later", "now"], default="later")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cap", type=float, default=30.0, help="burst: give up after (s)")
    parser.add_argument("--profile", default="", help="write a pyinstrument profile here")
    parser.add_argument("--fires", type=int, default=10)
    parser.add_argument("--spread", type=int, default=0)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--beat-samples", type=int, default=3)
    parser.add_argument("--aps-wait", type=float, default=5.0)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--ttl", type=float, default=15.0)
    options = parser.parse_args()
    globals()[f"cmd_{options.command}"](options)
    connections.close_all()


if __name__ == "__main__":
    main()
