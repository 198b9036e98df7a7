"""Benchmarks against django-celery-beat, django-apscheduler and django-q2 (not shipped, not CI)."""

from __future__ import annotations
