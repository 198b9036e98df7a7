"""The example project's jobs. django-schedules discovers this module at start-up."""

from __future__ import annotations

import logging
import urllib.request
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core import management
from django.core.mail import send_mail
from django.utils import timezone

from django_schedules import job

logger = logging.getLogger(__name__)


@job
def clear_expired_sessions() -> None:
    """Delete expired sessions from the database."""
    management.call_command("clearsessions")


@job
def send_daily_digest(recipient: str = "staff@example.com") -> int:
    """E-mail a digest of yesterday's sign-ups (printed by the console e-mail backend)."""
    since = timezone.now() - timedelta(days=1)
    new_users = get_user_model().objects.filter(date_joined__gte=since).count()
    send_mail(
        subject="Daily digest",
        message=f"{new_users} new user(s) since {since:%Y-%m-%d %H:%M %Z}.",
        from_email=None,
        recipient_list=[recipient],
    )
    return new_users


@job
def ping(url: str = "http://127.0.0.1:8000/health/", timeout: float = 5.0) -> int:
    """Fetch a URL on this machine and return its HTTP status."""
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError(f"ping only fetches local URLs, got {url!r}")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (checked above)
        status: int = response.status
    logger.info("ping %s: %s", url, status)
    return status
