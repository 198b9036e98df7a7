"""The management commands fed hostile options, hostile ``SCHEDULES_JOBS`` and hostile rows.

Allowed outcomes: the command does its work, or stops with a CommandError that names the
option (schedulerstatus also exits 1 or 2, its documented probe codes). A refused sync
writes nothing.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from django_schedules.models import Schedule
from tests.admin.conftest import REPORT
from tests.security.helpers import FUZZ_DB, snapshot

pytestmark = pytest.mark.timeout(600)

option_values = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "", "0", "-1", "1", "0.5", "1e308", "nan", "inf", "-inf", "30d", "0d", "12h", "90s",
            "45m", "1w", "d", "99999999999999999999d", "1000000", "100001", "1.5", "default",
            "a" * 101, "é", "a b", "x;rm -rf /", "--once", "django-celery-beat",
            "django-apscheduler", "celery",
        ]
    ),
)  # fmt: skip
OPTIONS = {
    "pruneexecutions": ["--older-than", "--batch-size", "--dry-run"],
    "listschedules": ["--json"],
    "schedulerstatus": ["--group", "--json", "--max-lag"],
    "syncschedules": ["--dry-run"],
    "importschedules": ["--from", "--commit"],
}
FLAGS = {"--dry-run", "--json", "--commit", "--once"}


def argv(data: Any, options: list[str]) -> list[str]:
    chosen = data.draw(st.lists(st.sampled_from(options), unique=True, max_size=3), label="opts")
    args: list[str] = []
    for option in chosen:
        args.append(option)
        if option not in FLAGS:
            args.append(data.draw(option_values, label=option))
    if data.draw(st.booleans(), label="junk positional"):
        args.append(data.draw(option_values, label="positional"))
    return args


def run(name: str, args: list[str]) -> None:
    """Run the command; an error must name what was wrong with the command line."""
    try:
        call_command(name, *args, stdout=StringIO(), stderr=StringIO())
    except CommandError as exc:
        message = str(exc)
        named = [word for word in [*args, "argument", "arguments", "installed"] if word]
        assert any(word in message for word in named), message
    except SystemExit as exc:
        assert name == "schedulerstatus" and exc.code in (1, 2), exc.code


@pytest.mark.django_db
@FUZZ_DB
@given(name=st.sampled_from(sorted(OPTIONS)), data=st.data())
def test_every_command_runs_or_names_the_bad_option(name: str, data: Any) -> None:
    before = snapshot()
    args = argv(data, OPTIONS[name])
    run(name, args)
    if "--dry-run" in args or name in ("listschedules", "schedulerstatus"):
        assert snapshot() == before


@pytest.mark.django_db(transaction=True)
@FUZZ_DB
@given(data=st.data())
def test_runscheduler_once_runs_or_names_the_bad_option(data: Any) -> None:
    args = ["--once", *argv(data, ["--group", "--poll-interval", "--lease-ttl", "--asyncio"])]
    run("runscheduler", args)


declared_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(),
    st.text(max_size=10),
    st.sampled_from(["cron", "interval", "date", "os.system", REPORT, "\x00", "*/0", "mon"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
ENTRY_KEYS = ["trigger", "hour", "seconds", "kwargs", "args", "id", "timezone"]
ENTRY_KEYS += ["misfire_policy", "max_instances", "executor", "next_run_time", "bogus"]
declared_entries = st.one_of(
    declared_values,
    st.fixed_dictionaries(
        {"func": st.sampled_from([REPORT, "os.system", "builtins.eval"])},
        optional=dict.fromkeys(ENTRY_KEYS, declared_values),
    ),
)
job_ids = st.one_of(st.text(max_size=10), st.integers(), st.none(), st.just("\x00"))


@pytest.mark.django_db
@FUZZ_DB
@given(jobs=st.one_of(declared_values, st.dictionaries(job_ids, declared_entries, max_size=3)))
def test_syncschedules_syncs_or_names_the_entry_and_writes_nothing(jobs: Any) -> None:
    before = snapshot()
    try:
        with override_settings(SCHEDULES_JOBS=jobs):
            call_command("syncschedules", stdout=StringIO(), stderr=StringIO())
    except CommandError as exc:
        assert "SCHEDULES_JOBS" in str(exc)
        assert snapshot() == before
    finally:
        Schedule.objects.all().delete()


# What a database holds as JSON: no NaN, no NUL or lone surrogate, integers of 64 bits.
stored_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
hostile_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | stored_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(stored_text, children, max_size=4)
    ),
    max_leaves=8,
)
hostile_triggers = st.one_of(
    hostile_json,
    st.fixed_dictionaries(
        {"version": st.just(1), "kind": st.sampled_from(["cron", "interval", "and", "date", "x"])},
        optional={"hour": hostile_json, "seconds": hostile_json, "triggers": hostile_json},
    ),
)


@pytest.mark.django_db
@FUZZ_DB
@given(
    trigger=hostile_triggers.filter(lambda value: value is not None),
    kind=stored_text,
    func=st.one_of(st.sampled_from(["os.system", REPORT, ""]), stored_text),
    # JSON null would be SQL NULL, which these NOT NULL columns refuse before any code runs.
    args=hostile_json.filter(lambda value: value is not None),
    kwargs=hostile_json.filter(lambda value: value is not None),
)
def test_a_row_written_behind_the_apis_back_never_breaks_a_page_or_a_listing(
    superuser: Any, trigger: Any, kind: str, func: str, args: Any, kwargs: Any
) -> None:
    schedule = Schedule.objects.create(
        job_id="hostile", func=REPORT, trigger={"version": 1, "kind": "cron"}, trigger_kind="cron"
    )
    try:
        # QuerySet.update: no model validation, as a row written by hand or by another tool.
        Schedule.objects.filter(pk=schedule.pk).update(
            trigger=trigger, trigger_kind=kind, func=func, args=args, kwargs=kwargs
        )
        out = StringIO()
        call_command("listschedules", "--json", stdout=out)
        assert '"hostile"' in out.getvalue()
        call_command("listschedules", stdout=StringIO())
        client = Client()
        client.force_login(superuser)
        change_list = client.get(reverse("admin:django_schedules_schedule_changelist"))
        assert change_list.status_code == 200
        url = reverse("admin:django_schedules_schedule_change", args=[schedule.pk])
        assert client.get(url).status_code == 200
    finally:
        Schedule.objects.filter(pk=schedule.pk).delete()


@pytest.mark.parametrize(
    ("command", "args", "named"),
    [
        # Each was an OverflowError, found by a longer fuzz run.
        ("runscheduler", ["--once", "--lease-ttl", "1E20"], "--lease-ttl"),
        ("runscheduler", ["--once", "--poll-interval", "1e300"], "--poll-interval"),
        ("pruneexecutions", ["--older-than", "99999999999999999999d"], "--older-than"),
        ("pruneexecutions", ["--older-than", "999999999d"], "--older-than"),
    ],
)
def test_an_option_too_large_to_use_is_refused_by_name(
    command: str, args: list[str], named: str
) -> None:
    with pytest.raises(CommandError, match=f"argument {named}: must be at most"):
        call_command(command, *args, stdout=StringIO(), stderr=StringIO())
