"""Settings for the test suite. The database comes from DATABASE_URL (default: SQLite)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent
env = environ.Env()

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite:///" + str(BASE_DIR / "db.sqlite3"))}
_db = DATABASES["default"]
# Several runs may share a server (developers, CI jobs): SCHEDULES_TEST_DB_SUFFIX keeps their
# test databases apart. SQLite tests use a file, not memory, so real scheduler processes can
# open the same database as the test.
_suffix = os.environ.get("SCHEDULES_TEST_DB_SUFFIX", "")
if "sqlite" in _db["ENGINE"]:
    _db["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"django_schedules_test{_suffix}.sqlite3")
    }
    _db.setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
else:
    _db["TEST"] = {"NAME": f"test_{_db['NAME']}{_suffix}"}
if "mysql" in _db["ENGINE"]:
    _db.setdefault("OPTIONS", {}).update({"charset": "utf8mb4"})
    _db["TEST"].update({"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"})

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_schedules",
    "tests.testapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The tasks executor's tests: Django 6 ships django.tasks; on Django 5.2 the django-tasks
# backport provides it. django-tasks-db stores tasks in our database for a real db_worker.
try:
    import django.tasks  # noqa: F401
except ImportError:
    TASKS_PACKAGE = "django_tasks"
    INSTALLED_APPS.append("django_tasks")
else:
    TASKS_PACKAGE = "django.tasks"
INSTALLED_APPS.append("django_tasks_db")

# importschedules reads django-celery-beat's own tables where it is installed (it supports
# Django < 6.1; tests/importers/test_import_celery_beat.py).
try:
    import django_celery_beat  # noqa: F401
except ImportError:
    HAS_CELERY_BEAT = False
else:
    HAS_CELERY_BEAT = True
    INSTALLED_APPS.append("django_celery_beat")
TASKS = {
    "default": {"BACKEND": f"{TASKS_PACKAGE}.backends.immediate.ImmediateBackend"},
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "schedules"]},
}

ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
