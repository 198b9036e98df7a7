"""APScheduler 3's scheduler classes as objects over ``django_schedules.api``.

``BlockingScheduler``, ``BackgroundScheduler``, ``AsyncIOScheduler``, ``GeventScheduler``,
``TornadoScheduler``, ``TwistedScheduler`` and ``QtScheduler`` take APScheduler's arguments
and have its methods; the runtime of the last four is an optional extra. docs/schedulers.md.
"""

from __future__ import annotations

from django_schedules.schedulers.aio import AsyncIOScheduler, TornadoScheduler
from django_schedules.schedulers.base import (
    STATE_PAUSED,
    STATE_RUNNING,
    STATE_STOPPED,
    BaseScheduler,
)
from django_schedules.schedulers.runtimes import GeventScheduler, QtScheduler, TwistedScheduler
from django_schedules.schedulers.threads import BackgroundScheduler, BlockingScheduler

__all__ = [
    "STATE_PAUSED",
    "STATE_RUNNING",
    "STATE_STOPPED",
    "AsyncIOScheduler",
    "BackgroundScheduler",
    "BaseScheduler",
    "BlockingScheduler",
    "GeventScheduler",
    "QtScheduler",
    "TornadoScheduler",
    "TwistedScheduler",
]
