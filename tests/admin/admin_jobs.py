"""Jobs the admin tests schedule; imported by tests/admin/conftest.py, which registers them."""

from __future__ import annotations

from django_schedules import job


@job
def send_report(recipient: str, copies: int = 1) -> str:
    """E-mail the weekly report to one recipient."""
    return f"sent {copies} to {recipient}"


@job
def tidy_up() -> None:
    """Remove stale files."""
