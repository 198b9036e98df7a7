"""exportschedules and importschedules --file (issue 19): the document, the round trip, the
dry run's diff, conflicts by job id, idempotence, and bad input refused whole."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_schedules import api, exports
from django_schedules.api_calendars import add_calendar
from django_schedules.models import Schedule
from django_schedules.options import OPTIONS
from django_schedules.triggers import (
    AndTrigger,
    CronTrigger,
    IntervalTrigger,
    OrTrigger,
    trigger_from_dict,
)
from tests.api.test_routing import ROUTED
from tests.testapp import jobs

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 3, 4, 9, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False), override_settings(**ROUTED):
        yield


def several() -> None:
    """Schedules of every trigger kind, and every option away from its default somewhere."""
    add_calendar("holidays", dates=["2030-12-25"], weekly=["sat 00:00-06:00"], timezone="UTC")
    api.add_job(jobs.add, "cron", args=[1], kwargs={"b": 2}, id="nightly", hour=2, minute=30,
                day_of_week="mon-fri", timezone="Europe/Berlin", name="Nightly report",
                misfire_grace_time=None, max_instances=3, timeout=12.5, max_retries=2,
                retry_delay=1.5, rerun_lost=True, misfire_policy="run_all")  # fmt: skip
    api.add_job(jobs.noop, "interval", id="every-7m", minutes=7, jitter=5, max_runs=40,
                pause_after_failures=3, executor="q", queue="reports", priority=-20,
                source="admin")  # fmt: skip
    api.add_job(jobs.noop, "date", id="launch", run_date=NOW + timedelta(days=3),
                calendars=["holidays"])  # fmt: skip
    api.add_job(jobs.noop, "calendarinterval", id="monthly", months=1, hour=4,
                timezone="Australia/Lord_Howe", enabled=False, pause_reason="quarter close",
                paused_until=NOW + timedelta(days=10))  # fmt: skip
    both = AndTrigger([CronTrigger(hour=6, timezone="UTC"),
                       IntervalTrigger(minutes=15, start_date=NOW)])  # fmt: skip
    api.add_job(jobs.noop, both, id="and")
    api.add_job(jobs.named_job, OrTrigger([CronTrigger(minute=0, timezone="UTC"),
                CronTrigger(minute=30, timezone="UTC")]), kwargs={"day": "x"},
                id="or", misfire_policy="skip")  # fmt: skip


def exported(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("exportschedules", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_import(path: Path, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("importschedules", "--file", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


MODEL_FIELDS = [f.name for f in Schedule._meta.concrete_fields]
COLUMNS = [str(option.column) for option in exports.EXPORTED]


def snapshot() -> dict[str, dict[str, Any]]:
    """Every schedule's columns that matter: all but its history (NOT_EXPORTED), plus its next
    run and its trigger's next ten fire times (the trigger by meaning)."""
    result = {}
    for row in Schedule.objects.all():
        values = {name: getattr(row, name) for name in COLUMNS}
        values["next_run_at"] = row.next_run_at
        values["trigger_kind"] = row.trigger_kind
        trigger = trigger_from_dict(row.trigger)
        values["fires"] = [t.isoformat() for t in trigger.fire_times(NOW, 10)]
        result[row.job_id] = values
    return result


def test_every_model_field_is_exported_or_says_why_not() -> None:
    assert sorted([*COLUMNS, *exports.NOT_EXPORTED]) == sorted(MODEL_FIELDS)
    # The keys are add_job's keywords, taken from the options table.
    assert tuple(o.name for o in OPTIONS if o.column is not None) == exports.EXPORTED_NAMES


def test_export_delete_import_gives_the_same_schedules(tmp_path: Path) -> None:
    several()
    before = snapshot()
    text, err = exported()
    assert err.strip() == "Exported 6 schedules."
    document = json.loads(text)
    assert (document["format"], document["version"]) == ("django-schedules", 1)
    nightly = next(s for s in document["schedules"] if s["id"] == "nightly")
    assert nightly["trigger"] == Schedule.objects.get(job_id="nightly").trigger  # stored form
    assert set(nightly) == set(exports.EXPORTED_NAMES)
    path = tmp_path / "schedules.json"
    path.write_text(text)
    Schedule.objects.all().delete()
    out, _ = run_import(path, "--commit")
    assert out.splitlines()[-1] == "6 created, 0 unchanged, 0 conflicts"
    assert snapshot() == before
    assert before["monthly"]["paused_until"] == NOW + timedelta(days=10)
    assert before["every-7m"]["queue"] == "reports"


def test_a_yaml_export_reads_back_the_same(tmp_path: Path) -> None:
    several()
    before = snapshot()
    text, _ = exported("--format", "yaml")
    assert text.startswith("format: django-schedules\n")
    path = tmp_path / "schedules.yaml"  # the extension chooses the format
    path.write_text(text)
    Schedule.objects.all().delete()
    run_import(path, "--commit")
    assert snapshot() == before


def test_yaml_without_pyyaml_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    with pytest.raises(CommandError, match=r"needs PyYAML, which is not installed: pip install"):
        exported("--format", "yaml")


def test_a_dry_run_shows_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    several()
    path = tmp_path / "s.json"
    path.write_text(exported()[0])
    Schedule.objects.filter(job_id__in=["launch", "or"]).delete()
    out, _ = run_import(path)
    lines = out.splitlines()
    assert "Would create launch" in lines and "Would create or" in lines
    assert "Unchanged nightly (the same schedule is there)" in lines
    assert lines[-1] == "2 to create, 4 unchanged, 0 conflicts (dry run: pass --commit to write)"
    assert Schedule.objects.count() == 4


def test_importing_twice_changes_nothing_the_second_time(tmp_path: Path) -> None:
    several()
    path = tmp_path / "s.json"
    path.write_text(exported()[0])
    Schedule.objects.all().delete()
    run_import(path, "--commit")
    rows = {s.job_id: (s.pk, s.version, s.updated_at) for s in Schedule.objects.all()}
    out, _ = run_import(path, "--commit")
    assert out.splitlines()[-1] == "0 created, 6 unchanged, 0 conflicts"
    assert {s.job_id: (s.pk, s.version, s.updated_at) for s in Schedule.objects.all()} == rows


def test_a_conflict_is_reported_by_job_id_and_nothing_is_written(tmp_path: Path) -> None:
    several()
    path = tmp_path / "s.json"
    path.write_text(exported()[0])
    Schedule.objects.exclude(job_id="nightly").delete()
    api.modify_job("nightly", max_retries=5)
    with pytest.raises(CommandError, match=r"the job ids nightly are taken by different") as info:
        run_import(path, "--commit")
    assert "Nothing was written" in str(info.value)
    assert Schedule.objects.count() == 1  # the five others were not created either


def test_the_conflict_lines_name_the_field_and_both_values(tmp_path: Path) -> None:
    several()
    path = tmp_path / "s.json"
    path.write_text(exported()[0])
    api.modify_job("nightly", max_retries=5)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("importschedules", "--file", str(path), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "Conflict nightly: a different schedule has this job id:",
        "    max_retries: 5 here, 2 in the file",
    ]


def write_document(tmp_path: Path, schedules: list[dict[str, Any]]) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "django-schedules", "version": 1,
                                "schedules": schedules}))  # fmt: skip
    return path


def good_entry(job_id: str = "fine") -> dict[str, Any]:
    trigger = IntervalTrigger(minutes=5, start_date=NOW).to_dict()
    return {"id": job_id, "func": "tests.testapp.jobs.noop", "trigger": trigger}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {**good_entry("x"), "func": "proj.tasks.gone"},
            "schedule 'x': func 'proj.tasks.gone' is not a registered job",
        ),
        (
            {**good_entry("x"), "trigger": {"version": 1, "kind": "cron", "hour": "25"}},
            "schedule 'x': trigger {'version': 1, 'kind': 'cron', 'hour': '25'} is invalid:",
        ),
        ({**good_entry("x"), "trigger": "every day"}, "schedule 'x': trigger must be a trigger"),
        ({**good_entry("x"), "max_retries": -1}, "schedule 'x': max_retries must be a whole"),
        ({**good_entry("x"), "colour": "red"}, "schedule 'x': unknown field 'colour'"),
        ({"id": "x", "func": "tests.testapp.jobs.noop"}, "schedule 'x': trigger missing"),
        ("x", "schedules[1] must be an object, got 'x'"),
        (good_entry("fine"), "schedule 'fine' appears twice in the file"),
    ],
)
def test_a_bad_entry_is_refused_by_job_id_and_nothing_is_written(
    tmp_path: Path, entry: Any, message: str
) -> None:
    path = write_document(tmp_path, [good_entry(), entry])
    with pytest.raises(CommandError, match="Nothing was written") as info:
        run_import(path, "--commit")
    assert message in str(info.value)
    assert not Schedule.objects.exists()  # not even the good first entry


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format": "django-schedules", "version": 1, "schedules": [', "is not valid JSON"),
        ('{"format": "other", "version": 1, "schedules": []}', "format must be"),
        ('{"format": "django-schedules", "version": 2, "schedules": []}', "got 2"),
        (
            '{"format": "django-schedules", "version": 1, "schedules": [], "holidays": []}',
            "keys this version does not read: holidays",
        ),
        ("[]", "the document must be an object"),
    ],
)
def test_a_bad_document_is_refused_with_a_clear_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CommandError, match=message):
        run_import(path, "--commit")
    assert not Schedule.objects.exists()


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"cannot read --file '.*nowhere.json'"):
        run_import(tmp_path / "nowhere.json")


def test_file_and_from_are_one_or_the_other(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("importschedules", "--file", "x.json", "--from", "django-celery-beat")
    with pytest.raises(CommandError, match="one of the arguments --file --from is required"):
        call_command("importschedules")


def test_long_imports_report_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from django_schedules.management.commands import importschedules

    monkeypatch.setattr(importschedules, "PROGRESS_EVERY", 2)
    path = write_document(tmp_path, [good_entry(f"job-{n}") for n in range(5)])
    _out, err = run_import(path, "--commit")
    assert err.splitlines() == ["checked 2 of 5 schedules", "checked 4 of 5 schedules"]
    assert Schedule.objects.count() == 5


def test_it_reads_standard_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    several()
    text = exported()[0]
    Schedule.objects.filter(job_id="launch").delete()
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    out, _ = run_import(Path("-"), "--commit")
    assert out.splitlines()[-1] == "1 created, 5 unchanged, 0 conflicts"
    assert Schedule.objects.filter(job_id="launch").exists()


def test_format_goes_with_file_only() -> None:
    with pytest.raises(CommandError, match="--format goes with --file"):
        call_command("importschedules", "--from", "django-celery-beat", "--format", "json")


def test_a_row_whose_stored_trigger_is_unreadable_is_a_conflict(tmp_path: Path) -> None:
    several()
    path = tmp_path / "s.json"
    path.write_text(exported()[0])
    Schedule.objects.filter(job_id="launch").update(trigger={"kind": "nope"})
    err = io.StringIO()
    with pytest.raises(CommandError, match="the job ids launch are taken"):
        call_command("importschedules", "--file", str(path), stdout=io.StringIO(), stderr=err)
    assert "    trigger: {'kind': 'nope'} here, " in err.getvalue()


def test_the_store_inserts_all_or_none() -> None:
    from django_schedules import store
    from django_schedules.exceptions import ScheduleExists

    api.add_job(jobs.noop, "interval", minutes=5, id="taken")
    fresh = api.build_schedule(jobs.noop, "interval", minutes=5, id="fresh")
    again = api.build_schedule(jobs.noop, "interval", minutes=5, id="taken")
    with pytest.raises(ScheduleExists, match="'taken'"):
        store.insert_schedules([fresh, again])
    assert list(Schedule.objects.values_list("job_id", flat=True)) == ["taken"]


def test_an_import_announces_each_schedule_it_adds(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from django_schedules.signals import schedule_changed

    seen: list[tuple[str, str]] = []

    def receiver(job_id: str, action: str, **kwargs: Any) -> None:
        seen.append((job_id, action))

    path = write_document(tmp_path, [good_entry("a"), good_entry("b")])
    schedule_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run_import(path, "--commit")
    finally:
        schedule_changed.disconnect(receiver)
    assert sorted(seen) == [("a", "added"), ("b", "added")]
