"""A WSGI application that runs a BackgroundScheduler in every gunicorn worker
(test_gunicorn.py): the workers elect one leader through the lease."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from django.core.wsgi import get_wsgi_application

django_application = get_wsgi_application()

from django_schedules import BackgroundScheduler  # noqa: E402
from tests.schedulers import jobs  # noqa: E402, F401 - registers the jobs

scheduler = BackgroundScheduler(poll_interval=0.05, lease_ttl=3, shutdown_grace=5)
scheduler.start()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
