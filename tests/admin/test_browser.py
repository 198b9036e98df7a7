"""A staff member's whole flow in a real Chromium, with `runscheduler` as a real process.

Log in, create a cron schedule with the field form, watch the preview update, save, pause,
resume, run now, and open the execution the run produced; then a failing job's traceback.
Screenshots land in `artifacts/screenshots/` (the best go into docs/img/). Any JavaScript
console error fails the test.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from django_schedules.models import Execution, ExecutionStatus, Schedule
from tests import polling
from tests.processes import REPO_ROOT, ManageCommand

CHROMIUM = os.environ.get("SCHEDULES_CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO_ROOT / "artifacts" / "screenshots"

if not Path(CHROMIUM).exists():
    # CI installs Debian's chromium (.ci/run): there a missing browser is a failure, not a skip.
    if os.environ.get("CI"):
        raise RuntimeError(f"Chromium is not at {CHROMIUM}; .ci/run should have installed it")
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test itself (not by the live server) are then flagged as async-unsafe, though they are not.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    # The admin's navigation sidebar stays closed, so the tables have the width in screenshots.
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []

    def on_console(msg: Any) -> None:
        # Browsers ask every site for /favicon.ico; the admin has none, which is no page error.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()
    assert errors == [], f"JavaScript console errors: {errors}"


@pytest.fixture
def scheduler() -> Iterator[ManageCommand]:
    with ManageCommand("runscheduler", "--poll-interval", "0.2", "--lease-ttl", "5") as process:
        yield process
        sys.stderr.write(process.output())  # shown when a test fails


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    polling.wait_until(predicate, timeout=timeout, interval=0.1, message=what)


def log_in(page: Any, base: str) -> None:
    User.objects.create_superuser("staff", "staff@example.com", "a-strong-password")
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", "a-strong-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_staff_create_pause_resume_and_run_a_schedule(
    page: Any, live_server: Any, scheduler: ManageCommand
) -> None:
    base = live_server.url
    log_in(page, base)

    # Create a cron schedule with the field form; the preview follows the typing.
    page.goto(f"{base}/admin/django_schedules/schedule/add/")
    page.fill("#id_job_id", "weekday-sum")
    page.fill("#id_name", "Weekday sum")
    page.select_option("#id_func", "tests.testapp.jobs.add")
    page.fill("#id_kwargs", '{"a": 2, "b": 3}')
    page.select_option("#id_trigger_kind", "cron")
    assert page.is_hidden("#id_interval_minutes")  # only the cron fields show
    page.select_option("#id_cron_preset", label="Every weekday at 09:00")
    page.fill("#id_cron_minute", "30")
    page.fill("#id_timezone", "Europe/Berlin")
    preview = page.locator("#schedules-preview")
    sync_api.expect(preview.locator(".schedules-preview-description")).to_contain_text(
        "09:30", timeout=10_000
    )
    sync_api.expect(preview.locator("tbody tr")).to_have_count(5)
    # As staff see it while typing: the cron fields, and the preview pinned below them.
    page.locator("#id_cron_minute").scroll_into_view_if_needed()
    page.focus("#id_cron_minute")
    assert preview.bounding_box()["y"] < 900  # in the window, not below the fold
    shot(page, "admin-form-preview", full_page=False)
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r".*/schedule/$"))
    schedule = Schedule.objects.get(job_id="weekday-sum")
    assert schedule.trigger["minute"] == "30" and schedule.next_run_at is not None
    assert page.get_by_text("Weekday sum").count() >= 1

    # Pause, then resume, from the change list's actions.
    def act(action: str) -> None:
        page.check(f"input[name=_selected_action][value='{schedule.pk}']")
        page.select_option("select[name=action]", action)
        page.click("button[name=index]")
        page.wait_for_load_state()

    act("pause_schedules")
    sync_api.expect(page.locator(".messagelist")).to_contain_text("Paused 1")
    schedule.refresh_from_db()
    assert schedule.enabled is False
    act("resume_schedules")
    sync_api.expect(page.locator(".messagelist")).to_contain_text("Resumed 1")
    schedule.refresh_from_db()
    assert schedule.enabled is True

    # Run now from the change page: the request returns at once; the scheduler runs it.
    page.goto(f"{base}/admin/django_schedules/schedule/{schedule.pk}/change/")
    page.click("button:has-text('Run now')")
    message = page.locator(".messagelist")
    sync_api.expect(message).to_contain_text("will run now")
    message.get_by_role("link", name="See its execution.").click()
    wait_until(
        lambda: Execution.objects.filter(status=ExecutionStatus.SUCCEEDED).exists(),
        60,
        "runscheduler to run the manual execution",
    )
    page.reload()
    sync_api.expect(page.locator(".field-status_label")).to_contain_text("Succeeded")
    sync_api.expect(page.locator(".field-result_block")).to_contain_text("5")

    # The list as staff see it day to day: a few kinds of schedule and their last outcomes.
    add_neighbours()
    page.goto(f"{base}/admin/django_schedules/schedule/")
    sync_api.expect(page.locator("#result_list")).to_contain_text("Succeeded")
    shot(page, "admin-changelist")


def add_neighbours() -> None:
    from datetime import UTC, datetime

    from django_schedules import api

    api.add_job("tests.testapp.jobs.noop", "interval", id="heartbeat", name="Heartbeat", minutes=15)
    api.add_job(
        "tests.testapp.jobs.noop",
        "calendarinterval",
        id="monthly-invoices",
        name="Monthly invoices",
        months=1,
        hour=6,
        timezone="America/New_York",
    )
    failed = api.add_job(
        "tests.testapp.jobs.fail_loudly",
        "cron",
        id="nightly-import",
        name="Nightly import",
        hour=2,
        minute=30,
        kwargs={"path": "/srv/x.csv"},
    )
    Execution.objects.create(
        schedule=failed,
        job_id=failed.job_id,
        name=failed.name,
        func=failed.func,
        fire_time=datetime(2026, 11, 24, 1, 30, tzinfo=UTC),
        status=ExecutionStatus.FAILED,
        reason="FileNotFoundError: No such import file: /srv/x.csv",
    )
    paused = api.add_job(
        "tests.testapp.jobs.noop",
        "cron",
        id="weekly-cleanup",
        name="Weekly clean-up",
        day_of_week="sun",
        hour=4,
    )
    api.pause_job(paused.job_id)


def test_staff_read_a_failed_runs_traceback(
    page: Any, live_server: Any, scheduler: ManageCommand
) -> None:
    from django_schedules import api

    base = live_server.url
    log_in(page, base)
    api.add_job(
        "tests.testapp.jobs.fail_loudly",
        "cron",
        id="nightly-import",
        name="Nightly import",
        hour=2,
        minute=30,
        kwargs={"path": "/srv/imports/<today>.csv"},
    )
    execution = api.run_job_now("nightly-import")
    wait_until(
        lambda: Execution.objects.filter(pk=execution.pk, status=ExecutionStatus.FAILED).exists(),
        60,
        "runscheduler to run the failing job",
    )
    page.goto(f"{base}/admin/django_schedules/execution/{execution.pk}/change/")
    traceback = page.locator(".field-traceback_block pre")
    sync_api.expect(traceback).to_contain_text("Traceback (most recent call last)")
    sync_api.expect(traceback).to_contain_text("<today>.csv")  # shown as text, not markup
    shot(page, "admin-execution-traceback")
    page.goto(f"{base}/admin/django_schedules/execution/")
    sync_api.expect(page.locator("#result_list")).to_contain_text("Failed")


def test_every_form_input_has_a_label(page: Any, live_server: Any) -> None:
    base = live_server.url
    log_in(page, base)
    page.goto(f"{base}/admin/django_schedules/schedule/add/")
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll(
                '#schedule_form input, #schedule_form select, #schedule_form textarea')]
            .filter(el => el.type !== 'hidden' && el.type !== 'submit')
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map(el => el.name || el.id)"""
    )
    assert unlabeled == []


def test_the_status_panel_shows_the_standby_leading_after_the_leader_is_killed(
    page: Any, live_server: Any
) -> None:
    import signal

    from django_schedules.models import SchedulerLease

    ttl = 3.0
    run = ("runscheduler", "--poll-interval", "0.2", "--lease-ttl", str(ttl))
    base = live_server.url
    log_in(page, base)
    with ManageCommand(*run) as first, ManageCommand(*run) as second:
        pids = {first.process.pid: first, second.process.pid: second}  # type: ignore[union-attr]
        wait_until(
            lambda: SchedulerLease.objects.filter(owner__contains=":").exists() and len(pids) == 2,
            60,
            "one of the two schedulers to take the lease",
        )
        owner = SchedulerLease.objects.get(group="default").owner
        leader_pid = int(owner.split(":")[1])
        standby_pid = next(pid for pid in pids if pid != leader_pid)
        panel = page.locator(".schedules-health-leader")
        page.goto(f"{base}/admin/django_schedules/schedule/")
        wait_for_panel(page, panel, f"pid {leader_pid}", 30)
        standbys = page.locator(".schedules-health-standbys")
        wait_for_panel(page, standbys, f"pid {standby_pid}", 30)
        pids[leader_pid].signal(signal.SIGKILL)
        killed = time.monotonic()
        wait_for_panel(page, panel, f"pid {standby_pid}", 60)
        took = time.monotonic() - killed
        sync_api.expect(page.locator(".schedules-health")).to_have_class(
            re.compile("schedules-health-ok")
        )
        # The standby takes the lease once it expires (the TTL); the margin is for a loaded
        # machine. benchmarks/ reports the real failover time.
        assert took < ttl + 10, f"the panel showed the standby leading after {took:.1f} s"


def wait_for_panel(page: Any, panel: Any, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in panel.inner_text():
            return
        time.sleep(0.5)
        page.reload()
    raise AssertionError(f"the status panel never showed {text!r}: {panel.inner_text()!r}")


def test_a_weekday_schedule_opened_and_renamed_keeps_its_days(page: Any, live_server: Any) -> None:
    # The issue's case: mon-fri, which no single box holds. The page ticks Monday to Friday,
    # the preview starts on a weekday, and a new name is the only change a save makes.
    from django_schedules import api

    schedule = api.add_job(
        "tests.testapp.jobs.add", "cron", hour=9, minute=30, day_of_week="mon-fri",
        kwargs={"a": 1, "b": 2}, id="weekday-admin", timezone="Europe/Berlin", source="admin",
    )  # fmt: skip
    before = (schedule.trigger, schedule.next_run_at, schedule.version)
    base = live_server.url
    log_in(page, base)
    page.goto(f"{base}/admin/django_schedules/schedule/{schedule.pk}/change/")
    ticked = page.eval_on_selector_all(
        "input[name=cron_day_of_week]:checked", "boxes => boxes.map(box => box.value)"
    )
    assert ticked == ["mon", "tue", "wed", "thu", "fri"]
    preview = page.locator("#schedules-preview")
    sync_api.expect(preview.locator("tbody tr")).to_have_count(5, timeout=10_000)
    days = [text[:3] for text in preview.locator("tbody tr td:first-child").all_inner_texts()]
    assert days and set(days) <= {"Mon", "Tue", "Wed", "Thu", "Fri"}, days
    page.fill("#id_name", "Weekday report")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r".*/schedule/$"))
    schedule.refresh_from_db()
    assert schedule.name == "Weekday report"
    assert (schedule.trigger, schedule.next_run_at) == before[:2]
    assert schedule.version == before[2] + 1
    sync_api.expect(page.locator("#result_list")).to_contain_text("Mon")


def test_a_crontab_error_sits_under_the_crontab_line(page: Any, live_server: Any) -> None:
    base = live_server.url
    log_in(page, base)
    page.goto(f"{base}/admin/django_schedules/schedule/add/")
    page.fill("#id_job_id", "bad-crontab")
    page.select_option("#id_func", "tests.testapp.jobs.add")
    page.fill("#id_kwargs", '{"a": 2, "b": 3}')
    page.check("input[name=cron_mode][value=crontab]")
    page.fill("#id_crontab", "0 9 * * 8")
    page.click("input[name=_save]")
    row = page.locator(".form-row.field-crontab")
    sync_api.expect(row).to_be_visible()
    sync_api.expect(row.locator(".errorlist")).to_contain_text("'8'")
    text = row.locator(".errorlist").inner_text()
    assert "Trigger" not in text and "_" not in text, text
    assert not Schedule.objects.filter(job_id="bad-crontab").exists()


def test_a_viewer_reads_the_timing_as_text_with_its_fire_times(page: Any, live_server: Any) -> None:
    from django.contrib.auth.models import Permission

    from django_schedules import api

    schedule = api.add_job(
        "tests.testapp.jobs.add", "cron", hour=9, minute=30, day_of_week="mon-fri",
        kwargs={"a": 1, "b": 2}, id="weekday-view", timezone="Europe/Berlin",
    )  # fmt: skip
    viewer = User.objects.create_user("viewer", password="a-strong-password", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_schedule"))
    base = live_server.url
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "viewer")
    page.fill("#id_password", "a-strong-password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    page.goto(f"{base}/admin/django_schedules/schedule/{schedule.pk}/change/")
    content = page.locator("#content").inner_text()
    assert not re.search(r"^None$", content, re.MULTILINE), content  # no field reads "None"
    assert "Cron mode" not in content and "Interval seconds" not in content
    sync_api.expect(page.locator(".field-description")).to_contain_text("09:30")
    sync_api.expect(page.locator(".field-upcoming tbody tr")).to_have_count(5)
    shot(page, "admin-view-only")


def test_both_lists_fit_a_1400_pixel_window(browser: Any, live_server: Any) -> None:
    # The lists as a laptop shows them: every column in view, nothing under the status panel.
    from datetime import UTC, datetime

    from django_schedules import api

    add_neighbours()
    long = api.add_job(
        "tests.testapp.jobs.add", "cron", id="quarterly-finance-report-for-the-board",
        name="Quarterly finance report for the board of directors", day="last fri",
        month="3,6,9,12", hour=17, kwargs={"a": 1, "b": 2}, timezone="America/Los_Angeles",
    )  # fmt: skip
    Execution.objects.create(
        schedule=long, job_id=long.job_id, name=long.name, func=long.func,
        fire_time=datetime(2026, 9, 25, 0, 0, tzinfo=UTC), status=ExecutionStatus.SUCCEEDED,
        worker="worker-host-with-a-long-name.example.internal:12345", result="'42 rows sent'",
    )  # fmt: skip
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    page = context.new_page()
    try:
        log_in(page, live_server.url)
        for path, name in [
            ("schedule", "admin-changelist-1400"),
            ("execution", "admin-executions-1400"),
        ]:
            page.goto(f"{live_server.url}/admin/django_schedules/{path}/")
            # Nothing scrolls sideways: not the page, not the table's own scroll box.
            widths = page.evaluate(
                "() => { const box = document.querySelector('#changelist .results');"
                " return [document.documentElement.scrollWidth, window.innerWidth,"
                " box.scrollWidth, box.clientWidth]; }"
            )
            shot(page, name)
            assert widths[0] <= widths[1] and widths[2] <= widths[3], (path, widths)
        page.goto(f"{live_server.url}/admin/django_schedules/schedule/")
        button = page.locator(".object-tools").bounding_box()
        panel = page.locator(".schedules-health").first.bounding_box()
        assert button is not None and panel is not None
        assert button["y"] + button["height"] <= panel["y"], (button, panel)
    finally:
        context.close()


def test_a_schedules_page_charts_its_runs(page: Any, live_server: Any) -> None:
    """The charts as staff see them: bars with height where runs were, their tooltips, the
    legend; inline SVG that needs no script."""
    from datetime import UTC, datetime, timedelta

    from django_schedules import api

    schedule = api.add_job(
        "tests.testapp.jobs.add", "interval", minutes=20, id="charted", kwargs={"a": 1}
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    outcomes = [ExecutionStatus.SUCCEEDED] * 9 + [ExecutionStatus.FAILED]
    for k in range(7 * 24 * 3):  # every 20 minutes for a week
        fire = now - timedelta(minutes=20 * (k + 1))
        status = outcomes[k % len(outcomes)] if k % 37 else ExecutionStatus.MISSED
        started = None if status == ExecutionStatus.MISSED else fire + timedelta(seconds=k % 5)
        Execution.objects.create(
            schedule=schedule, job_id="charted", name="charted", fire_time=fire,
            status=status, started_at=started,
        )  # fmt: skip
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/django_schedules/schedule/{schedule.pk}/change/")
    charts = page.locator("#schedules-charts")
    charts.scroll_into_view_if_needed()
    sync_api.expect(charts.locator("svg")).to_have_count(4)
    box = charts.locator("svg").first.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 40
    heights = charts.locator(".schedules-bar rect:not([fill=transparent])").evaluate_all(
        "rects => rects.map(r => r.getBoundingClientRect().height)"
    )
    assert len(heights) > 24 and max(heights) > 20, heights
    sync_api.expect(charts.locator("figcaption").first).to_contain_text("succeeded")
    sync_api.expect(charts.locator(".schedules-legend li")).to_have_count(5)
    shot(page, "admin-run-charts", full_page=False)
    charts.screenshot(path=str(SHOTS / "admin-run-charts-only.png"))


def test_staff_pause_schedules_with_a_reason_from_the_list(page: Any, live_server: Any) -> None:
    """The action's own page, with the admin's date and time widgets, as staff use it."""
    from django_schedules import api

    schedule = api.add_job(
        "tests.testapp.jobs.add", "interval", hours=1, id="paused-by-staff", kwargs={"a": 1}
    )
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/django_schedules/schedule/")
    page.check(f"input[name=_selected_action][value='{schedule.pk}']")
    page.select_option("select[name=action]", "pause_schedules_with_reason")
    page.click("button[name=index]")
    page.wait_for_selector("#schedules-pause-form")
    page.fill("#id_reason", "Quarter-end freeze")
    page.click(".field-until .datetimeshortcuts a:has-text('Today')")  # the admin's widget
    assert page.input_value("#id_until_0")  # the widget filled in today's date
    page.fill("#id_until_0", f"{time.gmtime().tm_year + 1}-01-01")  # safely ahead of now
    page.fill("#id_until_1", "06:00:00")
    shot(page, "admin-pause-with-reason", full_page=False)
    page.click("#schedules-pause-form input[type=submit]")
    sync_api.expect(page.locator(".messagelist")).to_contain_text("Paused 1")
    schedule.refresh_from_db()
    assert (schedule.enabled, schedule.pause_reason) == (False, "Quarter-end freeze")
    assert schedule.paused_until is not None


def test_staff_backfill_a_schedule_with_a_preview_and_the_scheduler_runs_it(
    page: Any, live_server: Any, scheduler: ManageCommand
) -> None:
    """The backfill action's page: a range in the admin's widgets, the preview of each
    occurrence, Confirm; then the real scheduler process runs each once."""
    from datetime import UTC, datetime

    from django_schedules import api

    schedule = api.add_job(
        "tests.testapp.jobs.add",
        "interval",
        hours=1,
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        id="backfilled-by-staff",
        kwargs={"a": 1},
    )
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/django_schedules/schedule/")
    page.check(f"input[name=_selected_action][value='{schedule.pk}']")
    page.select_option("select[name=action]", "backfill_schedule")
    page.click("button[name=index]")
    page.wait_for_selector("#schedules-backfill-form")
    page.fill("#id_start_0", "2026-01-01")
    page.fill("#id_start_1", "00:00:00")
    page.fill("#id_end_0", "2026-01-01")
    page.fill("#id_end_1", "03:00:00")
    page.click("input[name=_preview]")
    page.wait_for_selector("#schedules-backfill-preview")
    sync_api.expect(page.locator(".schedules-backfill-summary")).to_contain_text(
        "3 occurrences: 3 new, 0 re-run, 0 left alone."
    )
    assert Execution.objects.filter(job_id="backfilled-by-staff").count() == 0  # a preview
    shot(page, "admin-backfill-preview", full_page=False)
    page.click("input[name=_confirm]")
    sync_api.expect(page.locator(".messagelist")).to_contain_text("backfilled 3 occurrence(s)")
    runs = Execution.objects.filter(job_id="backfilled-by-staff")
    wait_until(
        lambda: set(runs.values_list("status", flat=True)) == {ExecutionStatus.SUCCEEDED},
        60,
        "the scheduler to run the backfill",
    )
    assert sorted(runs.values_list("kind", "attempt")) == [("backfill", 1)] * 3


def test_staff_write_a_calendar_and_the_preview_marks_the_runs_it_excludes(
    page: Any, live_server: Any
) -> None:
    """An exclusion calendar written in the admin one entry per line, then a schedule naming
    it: its page's live preview marks the fire times inside the calendar's window."""
    from datetime import UTC, datetime

    from django_schedules import api
    from django_schedules.models import Calendar

    hour = datetime.now(UTC).hour
    # Hourly fires at hour+1 ... hour+5 (the preview's five); the window covers hour+2 and
    # hour+3 every day, running past midnight where it must.
    window = f"mon-sun {(hour + 2) % 24:02d}:00-{(hour + 4) % 24:02d}:00"
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/django_schedules/calendar/add/")
    page.fill("#id_name", "Night freeze")
    page.fill("#id_timezone", "UTC")
    page.fill("#id_weekly", window)
    page.fill("#id_dates", "2030-12-24\n2030-12-31")
    shot(page, "admin-calendar", full_page=False)
    page.click("input[name=_save]")
    sync_api.expect(page.locator(".messagelist")).to_contain_text("Night freeze")
    calendar = Calendar.objects.get(name="Night freeze")
    assert (calendar.weekly, calendar.dates) == ([window], ["2030-12-24", "2030-12-31"])

    schedule = api.add_job(
        "tests.testapp.jobs.add", "cron", minute=0, id="hourly-report", kwargs={"a": 1},
        calendars=["Night freeze"], timezone="UTC", source="admin",
    )  # fmt: skip
    # Should the hour turn meanwhile, the five fires move on by one and the same two are
    # still inside the window.
    page.goto(f"{live_server.url}/admin/django_schedules/schedule/{schedule.pk}/change/")
    assert page.is_checked("input[name=calendars][value='Night freeze']")
    preview = page.locator("#schedules-preview")
    sync_api.expect(preview.locator("tbody tr")).to_have_count(5, timeout=10_000)
    marks = preview.get_by_text("Not run: inside calendar 'Night freeze'")
    sync_api.expect(marks).to_have_count(2)
    preview.scroll_into_view_if_needed()
    shot(page, "admin-calendar-preview", full_page=False)
