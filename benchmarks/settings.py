"""Benchmark settings: our app and the three peers' apps on one database.

DATABASE_URL picks the database (default: SQLite in WAL mode under benchmarks/results/):

    sqlite:////work/main/benchmarks/results/bench.sqlite3
    postgres://postgres@127.0.0.1:5432/bench_schedules
    mysql://root@127.0.0.1:3306/bench_schedules

Only ``benchmarks/.venv`` has the peers installed; ``benchmarks/run.py`` builds it.
"""

from __future__ import annotations

from pathlib import Path

import environ

RESULTS = Path(__file__).resolve().parent / "results"
RESULTS.mkdir(exist_ok=True)  # gitignored: absent from a fresh clone
env = environ.Env()

SECRET_KEY = "benchmarks-only-not-secret"  # noqa: S105 - never deployed
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{RESULTS / 'bench.sqlite3'}"),
}
_db = DATABASES["default"]
if "sqlite" in _db["ENGINE"]:
    # The settings Django recommends for SQLite under concurrency (WAL, IMMEDIATE writes).
    _db.setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            # WAL as docs/guarantees.md advises; `synchronous` is what runscheduler sets for
            # its own connections (SCHEDULES_SQLITE_SYNCHRONOUS), the peers keep SQLite's.
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    )
if "mysql" in _db["ENGINE"]:
    _db.setdefault("OPTIONS", {}).update({"charset": "utf8mb4"})

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_schedules",
    "django_celery_beat",
    "django_apscheduler",
    "django_q",
    "benchmarks",
]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# django-q2's conditional index: MariaDB ignores the condition (its own warning, not ours).
SILENCED_SYSTEM_CHECKS = ["models.W037"]

# django-schedules: its defaults (poll 0.5 s, lease TTL 15 s, thread pool of 10).
SCHEDULES_EXECUTORS = {"default": {"BACKEND": "threadpool", "OPTIONS": {"max_workers": 10}}}
if env.str("BENCH_EXECUTOR", "") == "processpool":  # benchmarks/sustained.py --executor
    SCHEDULES_EXECUTORS = {"default": {"BACKEND": "processpool"}}  # max_workers: the cores

# django-q2: the ORM broker on the same database (its no-extra-service set-up).
Q_CLUSTER = {"name": "bench", "orm": "default", "workers": 2, "timeout": 60, "retry": 120}

# django-apscheduler: its documented defaults.
APSCHEDULER_DATETIME_FORMAT = "N j, Y, f:s a"
APSCHEDULER_RUN_NOW_TIMEOUT = 25

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "level": "ERROR"}},
    "root": {"handlers": ["console"], "level": "ERROR"},
}
