"""The test database as other code sees it: its URL for child processes, and its rows."""

from __future__ import annotations

from typing import Any

from django.db import connections


def database_url(alias: str = "default") -> str:
    """DATABASE_URL of the database the test run is using (the test database, not NAME)."""
    settings = connections[alias].settings_dict
    vendor = connections[alias].vendor
    name = settings["NAME"]
    if vendor == "sqlite":
        return f"sqlite:///{name}"
    user, password = settings.get("USER") or "", settings.get("PASSWORD") or ""
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or ""
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[vendor]
    return f"{scheme}://{credentials}{host}{':' + str(port) if port else ''}/{name}"


def snapshot() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every schedule and execution row: what a refused input or a failed call must not change."""
    # Imported here: tests.processes imports this module, and benchmarks import that one
    # before Django's apps are ready.
    from django_schedules.models import Execution, Schedule

    return (
        list(Schedule.objects.order_by("pk").values()),
        list(Execution.objects.order_by("pk").values()),
    )
