"""Settings of the real worker processes in tests/workers/ (and of the scheduler processes
that feed them): RQ through django-tasks-rq, Celery through django-tasks-celery (Django 6) or
django-tasks-fennel (Django 5.2), both on the machine's Redis (6379) by default.

Each engine is a TASKS alias other than ``default`` whose QUEUES do not hold ``default``: the
configuration the docs show, which the internal task must honour. The queue's name comes from
SCHEDULES_WORKER_QUEUE so that test runs sharing the server do not take each other's messages.
"""

from __future__ import annotations

import os

import django

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, TASKS

QUEUE = os.environ.get("SCHEDULES_WORKER_QUEUE", "schedules")
REDIS_URL = os.environ.get("SCHEDULES_WORKER_REDIS", "redis://127.0.0.1:6379/0")

INSTALLED_APPS = [*INSTALLED_APPS, "django_rq"]
RQ_QUEUES = {QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 360}}

CELERY_BROKER_URL = os.environ.get("SCHEDULES_CELERY_BROKER", REDIS_URL)
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
if django.VERSION >= (6, 0):
    CELERY_BACKEND = {
        "BACKEND": "django_tasks_celery.CeleryBackend",
        "QUEUES": [QUEUE],
        "OPTIONS": {"CELERY_APP": "tests.workers.celery_app.app"},
    }
else:
    INSTALLED_APPS.append("django_tasks_fennel")
    CELERY_BACKEND = {"BACKEND": "django_tasks_fennel.CeleryBackend", "QUEUES": [QUEUE]}
    import tests.workers.celery_app  # noqa: F401  (fennel sends through the current app)

TASKS = {
    **TASKS,
    "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [QUEUE]},
    "celery": CELERY_BACKEND,
}
# A message a dying worker took is sent again after 10 s (the default, 60 s, suits a real
# backlog; the fault tests would wait a minute for it). The fault tests set the rest:
# SCHEDULES_WORKER_GIVE_UP shortens give_up_after, SCHEDULES_WORKER_LEASE_TTL the heartbeat's
# period (a third of it) and so how soon a dead worker's run is found lost.
# benchmarks/handoff.py sets SCHEDULES_WORKER_REDELIVER above the time its backlog takes to
# drain (a run waiting longer is sent again, and failed after max_redeliveries).
_REDELIVER = float(os.environ.get("SCHEDULES_WORKER_REDELIVER", "10"))
_HANDOFF: dict[str, object] = {"queue_name": QUEUE, "redeliver_after": _REDELIVER}
if "SCHEDULES_WORKER_GIVE_UP" in os.environ:
    _HANDOFF["give_up_after"] = float(os.environ["SCHEDULES_WORKER_GIVE_UP"])
if "SCHEDULES_WORKER_LEASE_TTL" in os.environ:
    SCHEDULES_LEASE_TTL = float(os.environ["SCHEDULES_WORKER_LEASE_TTL"])
SCHEDULES_EXECUTORS = {
    "default": {"BACKEND": "threadpool"},
    "rq": {"BACKEND": "tasks", "OPTIONS": {"backend": "rq", **_HANDOFF}},
    "celery": {"BACKEND": "tasks", "OPTIONS": {"backend": "celery", **_HANDOFF}},
}
# The backends' own advice on result backends: our results are on the Execution row.
SILENCED_SYSTEM_CHECKS = ["django_tasks_celery.W001", "django_tasks_celery.W002"]
