"""The Celery app of the worker tests: the one a project keeps in ``proj/celery.py``."""

from __future__ import annotations

from celery import Celery

app = Celery("schedules_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()  # imports django_schedules.tasks: the task registers itself
app.set_default()
