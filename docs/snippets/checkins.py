"""Check-ins: ping a dead man's switch as each run starts and ends.

Copy this file into one of your apps (say ``myapp/checkins.py``), fill in ``CHECKS``, and import
it from that app's ``AppConfig.ready()``. It needs nothing but the standard library.
"""

from __future__ import annotations

import logging
import queue
import threading
import urllib.request
from typing import Any

from django.dispatch import receiver

from django_schedules.models import Execution
from django_schedules.signals import execution_finished, execution_started

logger = logging.getLogger(__name__)

# Each monitored job id, and its check's ping URL:
#   healthchecks.io:    "https://hc-ping.com/<uuid>"
#   Sentry cron monitor: "https://o0.ingest.sentry.io/api/<project>/cron/<slug>/<public key>/"
CHECKS: dict[str, str] = {}
TIMEOUT = 10.0  # seconds a ping may take before it is given up (and logged)


def healthchecks_url(check: str, event: str) -> str:
    """healthchecks.io: /start when a run begins, the URL itself on success, /fail on failure."""
    return {"start": f"{check}/start", "success": check, "fail": f"{check}/fail"}[event]


def sentry_url(check: str, event: str) -> str:
    """Sentry cron monitors: the same URL, with ?status=in_progress, ok or error."""
    return check + "?status=" + {"start": "in_progress", "success": "ok", "fail": "error"}[event]


URL_FOR = healthchecks_url  # or sentry_url

# Pings leave from one background thread, in the order they were queued: a run never waits
# for the network, and a slow or dead endpoint holds back only the pings behind it.
_pings: queue.Queue[str] = queue.Queue()
_sender: threading.Thread | None = None
_sender_lock = threading.Lock()


def _send_pings() -> None:
    while True:
        url = _pings.get()
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310
                response.read()
        except Exception as exc:  # the network's errors, a bad URL: log it, keep going
            logger.warning("check-in %s failed: %s", url, exc)
        finally:
            _pings.task_done()


def ping(job_id: str, event: str) -> None:
    """Queue the ping of `event` ("start", "success" or "fail") for `job_id`'s check."""
    global _sender
    check = CHECKS.get(job_id)
    if check is None:
        return
    with _sender_lock:  # started on first use, and again in a forked child
        if _sender is None or not _sender.is_alive():
            _sender = threading.Thread(target=_send_pings, name="check-ins", daemon=True)
            _sender.start()
    _pings.put(URL_FOR(check, event))


@receiver(execution_started, sender=Execution, dispatch_uid="checkins.started")
def run_started(execution: Execution, **kwargs: Any) -> None:
    ping(execution.job_id, "start")


@receiver(execution_finished, sender=Execution, dispatch_uid="checkins.finished")
def run_finished(execution: Execution, **kwargs: Any) -> None:
    if execution.status == "succeeded":
        ping(execution.job_id, "success")
    elif execution.status in ("failed", "lost"):
        ping(execution.job_id, "fail")
