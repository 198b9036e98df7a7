"""The admin, the scheduler and pruning at scale: 100,000 schedules and 1,000,000 executions.

    .venv/bin/python benchmarks/scale.py                          # PostgreSQL, full size
    .venv/bin/python benchmarks/scale.py --schedules 2000 --executions 20000   # a quick check
    .venv/bin/python benchmarks/scale.py --database sqlite        # or mariadb

It drops and creates its own database (``bench_scale`` on PostgreSQL 127.0.0.1:5432 and MariaDB
127.0.0.1:3306, ``benchmarks/results/scale.sqlite3`` for SQLite), migrates, seeds the rows with
COPY (PostgreSQL) or multi-row INSERTs, runs ANALYZE, then times each admin page with Django's
test client as a logged-in superuser, the scheduler's idle tick and burst claim, and
``pruneexecutions`` deleting about half the executions while a scheduler claims in this process.
Each figure is printed against the 500 ms target. The result is ``docs/scale.md``'s table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DATABASE_NAME = "bench_scale"
TARGET_MS = 500.0
PRUNE_AGE = "30d"
# Executions are spread evenly over this many days, so pruning at PRUNE_AGE deletes about half.
HISTORY_DAYS = 60


# --- settings and the database ---------------------------------------------------------------


def database_settings(vendor: str) -> dict[str, Any]:
    if vendor == "postgresql":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": DATABASE_NAME,
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": "5432",
        }
    if vendor == "mariadb":
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": DATABASE_NAME,
            "USER": "root",
            "HOST": "127.0.0.1",
            "PORT": "3306",
            "OPTIONS": {"charset": "utf8mb4"},
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(RESULTS / "scale.sqlite3"),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def configure(vendor: str) -> None:
    """Django settings for the admin on `vendor`; the scheduler's own pruning is off, so the
    pruning measured is the command's alone."""
    from django.conf import settings

    sys.path.insert(0, str(ROOT))
    settings.configure(
        SECRET_KEY="benchmarks-only-not-secret",  # noqa: S106 - never deployed
        DEBUG=False,
        USE_TZ=True,
        TIME_ZONE="UTC",
        ALLOWED_HOSTS=["*"],
        DATABASES={"default": database_settings(vendor)},
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django_schedules",
        ],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        ROOT_URLCONF="tests.urls",
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        STATIC_URL="/static/",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        SCHEDULES_KEEP_EXECUTIONS=None,
        LOGGING={"version": 1, "root": {"level": "ERROR"}},
    )
    import django

    django.setup()


def recreate_database(vendor: str) -> None:
    """Drop and create the benchmark's own database (never the tests' or anyone else's)."""
    if vendor == "postgresql":
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)")
            c.execute(f"CREATE DATABASE {DATABASE_NAME}")
    elif vendor == "mariadb":
        import MySQLdb

        conn = MySQLdb.connect(host="127.0.0.1", user="root", port=3306)
        try:
            cursor = conn.cursor()
            cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME}")
            cursor.execute(f"CREATE DATABASE {DATABASE_NAME} CHARACTER SET utf8mb4")
        finally:
            conn.close()
    else:
        RESULTS.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{RESULTS / 'scale.sqlite3'}{suffix}").unlink(missing_ok=True)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- seeding ---------------------------------------------------------------------------------


def insert_rows(model: Any, columns: list[str], rows: Iterable[tuple[Any, ...]], n: int) -> None:
    """Insert `rows` fast: COPY on PostgreSQL, multi-row INSERTs of 5,000 elsewhere."""
    from django.db import connection, transaction

    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    step = max(n // 10, 1)
    began = time.perf_counter()

    def report(done: int) -> None:
        if done % step == 0 or done == n:
            rate = done / max(time.perf_counter() - began, 1e-9)
            say(f"    {model.__name__}: {done:,}/{n:,} ({rate:,.0f} rows/s)")

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for done, row in enumerate(rows, 1):
                    copy.write_row(row)
                    report(done)
            return
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - our own names
        chunk: list[tuple[Any, ...]] = []
        done = 0
        for row in rows:
            chunk.append(row)
            if len(chunk) == 5000:
                cursor.executemany(sql, chunk)
                done += len(chunk)
                chunk = []
                report(done)
        if chunk:
            cursor.executemany(sql, chunk)
            report(done + len(chunk))


def adapters() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """How this database takes a datetime and a duration in a raw INSERT."""
    from django.db import connection
    from django.db.models import DurationField

    if connection.vendor == "postgresql":
        return (lambda v: v), (lambda v: v)
    ops = connection.ops
    field = DurationField()
    return (
        lambda v: None if v is None else ops.adapt_datetimefield_value(v),
        lambda v: None if v is None else field.get_db_prep_value(v, connection),
    )


def seed_schedules(n: int, now: datetime) -> None:
    """`n` schedules of the four admin-editable triggers; 5% paused, 2% with a last error."""
    from benchmarks import jobs
    from django_schedules.api import build_schedule
    from django_schedules.models import Schedule, ScheduleSource

    assert jobs.noop  # imported for its registration
    templates = [
        build_schedule("bench.noop", "interval", minutes=30, id="t", now=now),
        build_schedule("bench.noop", "cron", hour="*/2", minute="15", id="t", now=now),
        build_schedule("bench.noop", "date", run_date=now + timedelta(days=30), id="t", now=now),
        build_schedule("bench.noop", "calendarinterval", months=1, hour=3, id="t", now=now),
    ]
    skip = {"id", "job_id", "name", "enabled", "last_error", "last_error_at", "source"}
    skip |= {"next_run_at", "created_at", "updated_at"}
    fields = [f for f in Schedule._meta.concrete_fields if f.attname not in skip]
    columns = [f.column for f in fields]
    from django.db import connection

    prepared = [
        tuple(f.get_db_prep_save(getattr(t, f.attname), connection) for f in fields)
        for t in templates
    ]
    nexts = [t.next_run_at for t in templates]
    sources = [ScheduleSource.CODE, ScheduleSource.ADMIN, ScheduleSource.SETTINGS]
    dt, _duration = adapters()
    stamp = dt(now)
    error = "ValueError: the report's recipient list is empty"

    def rows() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            kind = i % 4
            # Spread the next runs over the next hour so no schedule is due while measuring.
            nxt = nexts[kind]
            nxt = None if nxt is None else max(nxt, now + timedelta(seconds=600 + i % 3000))
            failed = i % 50 == 7
            yield (
                *prepared[kind],
                f"job-{i:06d}",
                f"Report {i:06d}" if i % 3 else "",
                i % 20 != 3,
                error if failed else "",
                stamp if failed else None,
                dt(nxt),
                stamp,
                stamp,
                sources[i % 3],
            )

    extra = ["job_id", "name", "enabled", "last_error", "last_error_at", "next_run_at"]
    extra += ["created_at", "updated_at", "source"]
    insert_rows(Schedule, columns + extra, rows(), n)


TRACEBACK = "".join(
    f'  File "/srv/app/reports.py", line {40 + i}, in step_{i}\n    return step_{i + 1}(data)\n'
    for i in range(12)
)
TRACEBACK = "Traceback (most recent call last):\n" + TRACEBACK + "ValueError: no rows\n"
# (status, share of 1000): mostly successes, as in a healthy system.
STATUS_MIX = [
    ("succeeded", 850),
    ("failed", 80),
    ("missed", 30),
    ("skipped", 25),
    ("lost", 10),
    ("running", 5),
]


def seed_executions(n: int, now: datetime) -> None:
    """`n` executions over the last HISTORY_DAYS days, half older than PRUNE_AGE: one busy
    schedule (the first cron one, which the benchmark opens) fired every minute for a
    twentieth of them, the rest in rounds over all the schedules (1% of deleted schedules:
    schedule NULL). Each part is inserted in fire-time order, as a scheduler writes them, so
    the table's physical order is a real table's."""
    from django_schedules.models import Execution, Schedule

    schedules = list(Schedule.objects.order_by("pk").values_list("pk", "job_id", "name"))
    busy = Schedule.objects.filter(trigger_kind="cron").order_by("pk").values_list("pk")[0][0]
    busy_row = next(row for row in schedules if row[0] == busy)
    count = len(schedules)
    heavy = n // 20
    spread = n - heavy
    statuses = [status for status, share in STATUS_MIX for _ in range(share)]
    dt, duration = adapters()
    span = timedelta(days=HISTORY_DAYS)
    rounds = -(-spread // count)

    def row(i: int, schedule: tuple[int | None, str, str], fire: datetime) -> tuple[Any, ...]:
        status = statuses[(i * 7919) % 1000]
        finished = status not in ("running", "missed", "skipped")
        took = timedelta(milliseconds=20 + (i * 31) % 5000)
        pk, job_id, name = schedule
        return (
            pk,
            job_id,
            name,
            "bench.noop",
            dt(fire),
            dt(fire),
            "manual" if i % 97 == 0 else "scheduled",
            status,
            "missed by 120 s" if status == "missed" else "",
            1,
            "default",
            1,
            dt(fire),
            dt(fire) if finished or status == "running" else None,
            dt(fire + took) if finished else None,
            dt(fire + took) if status != "missed" else None,
            duration(took) if finished else None,
            f"worker-{i % 8}:{1000 + i % 8}",
            f'{{"rows": {i % 1000}, "ok": true}}' if status == "succeeded" else "",
            TRACEBACK if status == "failed" else "",
        )

    def in_rounds() -> Iterator[tuple[Any, ...]]:
        for step in range(rounds):
            for second in range(min(count, 3600)):
                for index in range(second, count, 3600):
                    i = step * count + index
                    if i >= spread:
                        continue
                    # Round `step` of every schedule lies at the same age, oldest first, each
                    # schedule 1 to 3,600 s into it.
                    fire = now - span + span * step / rounds + timedelta(seconds=1 + second)
                    pk, job_id, name = schedules[index]
                    yield row(i, (None if i % 100 == 99 else pk, job_id, name), fire)

    def every_minute() -> Iterator[tuple[Any, ...]]:
        # Whole minutes back from `now`, never a round's whole second plus one: no clash.
        minutes = span / heavy
        for k in range(heavy, 0, -1):
            fire = now - timedelta(minutes=round(k * minutes.total_seconds() / 60))
            yield row(k, busy_row, fire)

    columns = ["schedule_id", "job_id", "name", "func", "fire_time", "run_at", "kind", "status"]
    columns += ["reason", "attempt", "executor", "epoch", "created_at", "started_at"]
    columns += ["finished_at", "heartbeat_at", "duration", "worker", "result", "traceback"]
    insert_rows(Execution, columns, in_rounds(), spread)
    insert_rows(Execution, columns, every_minute(), heavy)


def analyze() -> None:
    from django.db import connection

    from django_schedules.models import Execution, Schedule

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        elif connection.vendor == "mysql":
            for model in (Schedule, Execution):
                cursor.execute(f"ANALYZE TABLE {model._meta.db_table}")
                cursor.fetchall()
        else:
            cursor.execute("ANALYZE")


def seed(options: argparse.Namespace) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command

    say(f"  creating {DATABASE_NAME} on {options.database} and migrating")
    recreate_database(options.database)
    call_command("migrate", verbosity=0)
    now = datetime.now(UTC)
    began = time.perf_counter()
    seed_schedules(options.schedules, now)
    seed_executions(options.executions, now)
    say("  analyze")
    analyze()
    User.objects.create_superuser("boss", "boss@example.com", "pw")
    say(f"  seeded in {time.perf_counter() - began:.1f} s")


# --- measuring -------------------------------------------------------------------------------


class Table:
    """The figures, printed as they come and as a Markdown table at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, str, bool | None]] = []

    def add(self, what: str, times: list[float], note: str = "", target: bool = True) -> None:
        ms = [t * 1000 for t in times]
        median, worst = statistics.median(ms), max(ms)
        met = worst < TARGET_MS if target else None
        self.rows.append((what, median, worst, note, met))
        verdict = {True: "met", False: "NOT MET", None: "-"}[met]
        say(f"    {what}: median {median:.1f} ms, max {worst:.1f} ms {note} [{verdict}]")

    def markdown(self) -> str:
        lines = [
            f"| what | median ms | max ms | notes | under {TARGET_MS:.0f} ms |",
            "|---|---:|---:|---|---|",
        ]
        for what, median, worst, note, met in self.rows:
            verdict = {True: "met", False: "**not met**", None: "-"}[met]
            lines.append(f"| {what} | {median:.1f} | {worst:.1f} | {note} | {verdict} |")
        return "\n".join(lines)


def time_page(
    table: Table, client: Any, label: str, url: str, repeat: int, data: dict[str, Any] | None = None
) -> None:
    response, queries = count_queries(lambda: client.get(url, data))
    if response.status_code != 200:
        raise SystemExit(f"{label}: {url} answered {response.status_code}")
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        client.get(url, data)
        times.append(time.perf_counter() - began)
    table.add(label, times, f"{queries} queries")


def measure_admin(table: Table, options: argparse.Namespace) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    from django_schedules.models import Execution, Schedule

    client = Client()
    client.force_login(User.objects.get(username="boss"))
    repeat = options.repeat
    schedules = "/admin/django_schedules/schedule/"
    executions = "/admin/django_schedules/execution/"
    busy = Schedule.objects.filter(trigger_kind="cron").order_by("pk").first()
    assert busy is not None
    execution = Execution.objects.filter(status="failed").order_by("-pk").first()
    assert execution is not None
    # Page 500 and 1000 at full size; the middle page when scaled down.
    deep = min(500, options.schedules // 100)
    deeper = min(1000, options.executions // 100)
    pages = [
        ("schedule list", schedules),
        ("schedule list, page 2", schedules + "?p=2"),
        (f"schedule list, page {deep}", f"{schedules}?p={deep}"),
        ("schedule list, paused", schedules + "?enabled__exact=0"),
        ("schedule list, trigger kind cron", schedules + "?trigger_kind__exact=cron"),
        ("schedule list, last outcome failed", schedules + "?last_outcome=failed"),
        ("schedule list, never ran", schedules + "?last_outcome=never"),
        ("schedule list, declared in admin", schedules + "?source=admin"),
        ("schedule list, search", schedules + "?q=job-04242"),
        ("schedule list, with filter counts", schedules + "?_facets=True"),
    ]
    pages += sorted_pages(Schedule, "schedule list", schedules, "")
    pages += [
        ("schedule change form", f"{schedules}{busy.pk}/change/"),
        ("schedule add form", schedules + "add/"),
    ]
    # The links DateFieldListFilter's "Past 7 days" makes: aware midnights.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    past_week = urlencode(
        {"fire_time__gte": today - timedelta(days=7), "fire_time__lt": today + timedelta(days=1)}
    )
    pages += [
        ("execution list", executions),
        ("execution list, status failed", executions + "?status__exact=failed"),
        ("execution list, status running", executions + "?status__exact=running"),
        ("execution list, kind manual", executions + "?kind__exact=manual"),
        ("execution list, one schedule", f"{executions}?schedule={busy.pk}"),
        ("execution list, past 7 days", f"{executions}?{past_week}"),
        ("execution list, search", executions + "?q=job-04242"),
        ("execution list, with filter counts", executions + "?_facets=True"),
        (f"execution list, page {deeper}", f"{executions}?p={deeper}"),
    ]
    pages += sorted_pages(Execution, "execution list", executions, "")
    one = f"schedule={busy.pk}&"
    pages += sorted_pages(Execution, "execution list, one schedule", executions, one)
    pages.append(("execution detail", f"{executions}{execution.pk}/change/"))
    for label, url in pages:
        time_page(table, client, label, url, repeat)
    preview = {
        "trigger_kind": "cron",
        "timezone": "Europe/Berlin",
        "cron_mode": "fields",
        "cron_day_of_week": ["mon", "fri"],
        "cron_hour": "9",
        "cron_minute": "30",
        "cron_second": "0",
    }
    time_page(table, client, "preview", schedules + "preview/", repeat, preview)


def sorted_pages(model: Any, label: str, url: str, query: str) -> list[tuple[str, str]]:
    """A page sorted by each column the admin lets a user sort by, up and down (``?o=`` is
    the column's place in the list, counting the actions checkbox)."""
    from django.contrib import admin
    from django.contrib.admin.utils import label_for_field
    from django.contrib.auth.models import User
    from django.core.exceptions import FieldDoesNotExist
    from django.test import RequestFactory

    request = RequestFactory().get(f"{url}?{query}")
    request.user = User.objects.get(username="boss")
    model_admin = admin.site.get_model_admin(model)
    columns = list(model_admin.get_list_display(request))
    if model_admin.get_actions(request):
        columns.insert(0, "action_checkbox")
    sortable = model_admin.get_sortable_by(request)
    pages = []
    for index, name in enumerate(columns):
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            if not getattr(getattr(model_admin, name, None), "admin_order_field", None):
                continue
        if name not in sortable:
            continue
        title = label_for_field(name, model, model_admin)
        for sign, way in (("", ""), ("-", " desc")):
            pages.append((f"{label}, sorted by {title}{way}", f"{url}?{query}o={sign}{index}"))
    return pages


def measure_status_panel(table: Table, repeat: int) -> None:
    from django_schedules import store
    from django_schedules.admin import scheduler_panel
    from django_schedules.status import check_health

    def panel() -> None:
        for group in store.scheduler_groups():
            scheduler_panel(check_health(group))

    _none, queries = count_queries(panel)
    table.add("status panel", timed(panel, repeat), f"{queries} queries")


def count_queries(fn: Callable[[], Any]) -> tuple[Any, int]:
    """Call `fn` once; return its result and how many queries it ran."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()  # the log is a bounded deque: a full one would count nothing
    with CaptureQueriesContext(connection) as queries:
        result = fn()
    return result, len(queries)


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return times


def scheduler() -> Any:
    from benchmarks.measure import NullExecutor
    from django_schedules.scheduler import Scheduler

    sched = Scheduler(executors={"default": NullExecutor("default", {}, using="default")})
    sched.tick()  # takes the lease; later ticks are the steady state
    return sched


def make_due(count: int, offset: int) -> list[int]:
    """Make `count` enabled schedules due one second ago; return their ids."""
    from django_schedules.models import Schedule

    candidates = Schedule.objects.filter(enabled=True, next_run_at__isnull=False).order_by("pk")
    offset %= max(candidates.count() - count, 1)
    ids = list(candidates.values_list("pk", flat=True)[offset : offset + count])
    Schedule.objects.filter(pk__in=ids).update(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
    return ids


def claim_all(sched: Any) -> list[float]:
    """Tick until nothing is due; return each claiming tick's time."""
    times = []
    while True:
        began = time.perf_counter()
        wait = sched.tick()
        elapsed = time.perf_counter() - began
        if wait != 0.0:
            return times
        times.append(elapsed)


def measure_scheduler(table: Table, sched: Any) -> None:
    _wait, queries = count_queries(sched.tick)
    table.add("scheduler idle tick", timed(sched.tick, 50), f"{queries} queries")
    make_due(1000, 0)
    began = time.perf_counter()
    ticks = claim_all(sched)
    total = time.perf_counter() - began
    table.add(
        "scheduler burst: 1,000 due at once",
        ticks,
        f"claimed in {len(ticks)} tick(s), {1000 / total:,.0f} a second",
        target=False,
    )


class WaitSampler:
    """What the claiming connection's server process waits on while it works (PostgreSQL):
    a thread reads pg_stat_activity for that process every 2 ms. A claim blocked by pruning's
    row locks would show as waits of type Lock."""

    def __init__(self) -> None:
        from collections import Counter

        from django.db import connection

        connection.ensure_connection()
        self.pid = connection.connection.info.backend_pid
        self.seen: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg

        sql = "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s"
        sql += " AND state = 'active'"
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={DATABASE_NAME}") as conn:
            conn.autocommit = True
            while not self._stop.wait(0.002):
                row = conn.execute(sql, [self.pid]).fetchone()
                if row is not None:
                    self.seen[f"{row[0]}:{row[1]}" if row[0] else "running"] += 1

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> str:
        total = sum(self.seen.values())
        locks = sum(n for what, n in self.seen.items() if what.startswith("Lock:"))
        top = ", ".join(f"{what} {n}" for what, n in self.seen.most_common(3))
        return f"claim sampled {total} times while active: {locks} waiting on a lock ({top})"


def measure_pruning(table: Table, sched: Any, options: argparse.Namespace) -> None:
    """Run pruneexecutions in a child process; meanwhile claim 100 due schedules at a time
    here and time each claim, to show pruning holds no lock a claim waits on for long."""
    from django_schedules.models import Execution

    before = Execution.objects.count()
    baseline: list[float] = []
    for round_ in range(10):
        make_due(100, 2000 + round_ * 100)
        baseline += claim_all(sched)
    table.add("claim of 100, no pruning", baseline, f"{len(baseline)} claims")
    child = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--database",
            options.database,
            "--batch-size",
            str(options.batch_size),
            "prune-child",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    during: list[float] = []
    round_ = 10
    sampler = WaitSampler() if options.database == "postgresql" else None
    with sampler or contextlib.nullcontext():
        while child.poll() is None:
            make_due(100, 2000 + (round_ % 900) * 100)
            during += claim_all(sched)
            round_ += 1
            time.sleep(0.05)
    out, _err = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"pruneexecutions failed ({child.returncode})")
    report = json.loads(out.strip().splitlines()[-1])
    after = Execution.objects.count()
    waits = f"; {sampler.summary()}" if sampler else ""
    table.add("claim of 100 while pruning", during, f"{len(during)} claims{waits}")
    note = (
        f"{report['deleted']:,} rows ({before:,} to {after:,}) in {report['batches']} batches "
        f"of {report['batch_size']:,}; total {report['total']:.1f} s"
    )
    table.add("pruneexecutions: one batch's DELETE transaction", report["transactions"], note)
    finds = report["finds"]
    tenth = max(len(finds) // 10, 1)
    growth = f"first tenth median {statistics.median(finds[:tenth]) * 1000:.1f} ms, last tenth "
    growth += f"{statistics.median(finds[-tenth:]) * 1000:.1f} ms"
    table.add("pruneexecutions: finding a batch (no lock)", finds, growth)


def prune_child(batch_size: int) -> None:
    """Run ``pruneexecutions`` as an operator would; time each DELETE transaction (from the
    DELETE statement to the end of its COMMIT: how long its row locks are held)."""
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    opened: list[float] = []
    transactions: list[float] = []
    finds: list[float] = []
    commit = connection.commit

    def on_execute(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        verb = sql.lstrip()[:6].upper()
        began = time.perf_counter()
        if verb == "DELETE":
            opened.append(began)
        result = execute(sql, params, many, context)
        if verb == "SELECT":
            finds.append(time.perf_counter() - began)
        return result

    def timed_commit() -> None:
        commit()
        if len(opened) > len(transactions):
            transactions.append(time.perf_counter() - opened[-1])

    connection.commit = timed_commit  # type: ignore[method-assign]
    out = StringIO()
    began = time.perf_counter()
    with connection.execute_wrapper(on_execute):
        call_command(
            "pruneexecutions",
            "--older-than",
            PRUNE_AGE,
            "--batch-size",
            str(batch_size),
            stdout=out,
        )
    total = time.perf_counter() - began
    deleted = int(out.getvalue().split("Deleted ")[1].split(" ")[0])
    report = {
        "deleted": deleted,
        "batches": len(opened),
        "batch_size": batch_size,
        "transactions": transactions,
        "finds": finds,
        "total": total,
    }
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database", choices=["postgresql", "sqlite", "mariadb"], default="postgresql"
    )
    parser.add_argument("--schedules", type=int, default=100_000)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per page")
    parser.add_argument("--batch-size", type=int, default=1000, help="pruneexecutions' batch")
    parser.add_argument("--seed-only", action="store_true", help="seed, then stop")
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database")
    parser.add_argument("--no-prune", action="store_true", help="skip the pruning measurement")
    parser.add_argument("step", nargs="?", choices=["prune-child"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    configure(options.database)
    if options.step == "prune-child":
        prune_child(options.batch_size)
        return
    from django.db import connection

    say(f"scale: {options.schedules:,} schedules, {options.executions:,} executions")
    if not options.reuse:
        seed(options)
    if options.seed_only:
        return
    load_before = os.getloadavg()[0]
    table = Table()
    say("  admin pages")
    measure_admin(table, options)
    measure_status_panel(table, options.repeat)
    say("  scheduler")
    sched = scheduler()
    try:
        measure_scheduler(table, sched)
        if not options.no_prune:
            say("  pruning, with a scheduler claiming meanwhile")
            measure_pruning(table, sched, options)
    finally:
        sched.lease.release()
    print(
        f"\n{options.schedules:,} schedules, {options.executions:,} executions on "
        f"{connection.vendor}, {options.repeat} timed requests a page; load average "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"({os.cpu_count()} CPUs)\n"
    )
    print(table.markdown())


if __name__ == "__main__":
    main()
