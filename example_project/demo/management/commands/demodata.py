"""Create the demo login and a few schedules, so the admin has something to show."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from django_schedules import add_job

DEMO_USERNAME = "admin"
DEMO_PASSWORD = "admin"


class Command(BaseCommand):
    help = "Create the demo superuser (admin/admin) and the demo schedules; safe to run twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--ping-url",
            default="http://127.0.0.1:8000/health/",
            help="The local page the ping job fetches (the demo's own address).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if not User.objects.filter(username=DEMO_USERNAME).exists():
            User.objects.create_superuser(DEMO_USERNAME, "admin@example.com", DEMO_PASSWORD)
        add_job(
            "demo.jobs.ping",
            "interval",
            seconds=30,
            id="ping-health",
            name="Ping the health page",
            kwargs={"url": options["ping_url"]},
            replace_existing=True,
        )
        add_job(
            "demo.jobs.send_daily_digest",
            "cron",
            hour=9,
            minute=30,
            day_of_week="mon-fri",
            id="daily-digest",
            name="Daily digest e-mail",
            kwargs={"recipient": "staff@example.com"},
            replace_existing=True,
        )
        add_job(
            "demo.jobs.send_daily_digest",
            "calendarinterval",
            months=1,
            hour=8,
            id="monthly-digest",
            name="Monthly digest e-mail",
            replace_existing=True,
        )
        self.stdout.write(self.style.SUCCESS("Demo data ready: 3 schedules, login admin/admin."))
