"""gunicorn's settings for test_gunicorn.py: a worker shuts its scheduler down as it exits,
releasing the lease so another worker leads at once (the recipe in docs/schedulers.md)."""

from __future__ import annotations

from typing import Any


def worker_exit(server: Any, worker: Any) -> None:
    from tests.schedulers.wsgi_app import scheduler

    if scheduler.running:
        scheduler.shutdown()
