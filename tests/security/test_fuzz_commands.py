"""The management commands fed hostile options, hostile ``SCHEDULES_JOBS`` and hostile rows.

Allowed outcomes: the command does its work, or stops with a CommandError that names the
option (schedulerstatus also exits 1 or 2, its documented probe codes). A refused sync
writes nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from django_schedules.models import Schedule
from tests.admin.conftest import REPORT
from tests.databases import snapshot
from tests.security.helpers import FUZZ_DB

pytestmark = pytest.mark.timeout(600)

option_values = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "", "0", "-1", "1", "0.5", "1e308", "nan", "inf", "-inf", "30d", "0d", "12h", "90s",
            "45m", "1w", "d", "99999999999999999999d", "1000000", "100001", "1.5", "default",
            "a" * 101, "é", "a b", "x;rm -rf /", "--once", "django-celery-beat",
            "django-apscheduler", "celery", "a\n", " 7d ", "100000", "86400", "86400.1",
        ]
    ),
)  # fmt: skip


# The oracle: each option's rule, restated from the commands' help and error messages (not
# by calling their parsers), so a parser that accepts what its message refuses, or the other
# way round, fails here. True means argparse hands the value on.
def number(parse: Callable[[str], float], rule: Callable[[float], bool]) -> Callable[[str], bool]:
    def valid(value: str) -> bool:
        try:
            return rule(parse(value))
        except ValueError:
            return False

    return valid


def age(value: str) -> bool:
    """A whole number greater than zero followed by s, m, h or d, at most 36500d."""
    match = re.fullmatch(r"(\d+)([smhd])", value.strip())
    if match is None:
        return False
    seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return 0 < seconds <= 36_500 * 86_400


def group_name(value: str) -> bool:
    """1 to 100 of letters, digits, '_', '.', ':' and '-', and nothing after them (a final
    newline, which `$` used to let through, is refused)."""
    return re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", value) is not None


def calendar_name(value: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9_.:@ -]{1,100}", value) is not None and value == value.strip()


def zone_name(value: str) -> bool:
    try:
        ZoneInfo(value)
    except Exception:
        return False
    return bool(value)


def anything(value: str) -> bool:
    return True


def aware_instant(value: str) -> bool:
    """An ISO 8601 date and time with its UTC offset (a bare date or time is refused)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.utcoffset() is not None


VALID: dict[str, dict[str, Callable[[str], bool] | None]] = {  # None: a flag
    "pruneexecutions": {
        "--older-than": age,
        "--batch-size": number(int, lambda n: 1 <= n <= 100_000),
        "--dry-run": None,
    },
    "listschedules": {"--json": None},
    "schedulerstatus": {
        "--group": anything,
        "--json": None,
        "--max-lag": number(float, lambda s: math.isfinite(s) and s >= 0),
    },
    "syncschedules": {"--dry-run": None},
    "importcalendar": {"--file": anything, "--name": calendar_name, "--timezone": zone_name},
    "importschedules": {
        "--from": lambda value: value in ("django-apscheduler", "django-celery-beat"),
        "--commit": None,
    },
    "backfilljob": {
        "--start": aware_instant,
        "--end": aware_instant,
        "--limit": number(int, lambda n: 1 <= n <= 100_000),
        "--dry-run": None,
    },
    "runscheduler": {
        "--group": group_name,
        "--poll-interval": number(float, lambda s: math.isfinite(s) and 0 < s <= 86_400),
        "--lease-ttl": number(float, lambda s: math.isfinite(s) and 0 < s <= 86_400),
        "--asyncio": None,
        "--once": None,
    },
}
# Each rule's edges, on both sides: drawn often by the fuzz tests, and all tried below.
BOUNDARIES = {
    "--older-than": ["1s", "0s", "36500d", "36501d", "52560000m", "52560001m", "7d\n", "1.5d"],
    "--batch-size": ["1", "0", "100000", "100001", " 5 ", "5.0"],
    "--max-lag": ["0", "-0.0", "-1e-9", "1e308", "inf", "nan"],
    "--poll-interval": ["0.001", "0", "86400", "86400.001", "-1", "nan"],
    "--lease-ttl": ["1", "0", "86400", "86400.001", "-1", "inf"],
    "--group": ["a", "", "a" * 100, "a" * 101, "a.b:c-d_e", "a b", "a\n", "a\n\n"],
    "--from": ["django-celery-beat", "django-apscheduler", "celery", ""],
    "--start": ["2026-01-01T00:00Z", "2026-01-01T00:00:00+05:30", "2026-01-01", "2026-01-01T00:00"],
    "--end": ["2026-01-01T01:00Z", "2000-01-01T00:00Z", "9999-12-31T00:00Z", "2026-01-01T01"],
    "--limit": ["1", "0", "100000", "100001", " 5 ", "5.0"],
    "--file": ["missing.ics", "", ".", "a b;c.ics"],
    "--name": ["a", "", "a" * 100, "a" * 101, " a", "a;b", "Public holidays"],
    "--timezone": ["UTC", "Europe/Berlin", "", "Mars/Base", "../etc/passwd", "Europe"],
}
# The options a command cannot run without: one of each group (importschedules reads a file
# or a peer's tables; --file needs a real file, so the fuzz draws --from).
REQUIRED = {
    "pruneexecutions": ("--older-than",),
    "importschedules": ("--file", "--from"),
    "importcalendar": ("--file",),
}
# backfilljob: a job id (positional) and both ends of the range; a well-formed command line
# for the edges test below.
BACKFILL_ARGS = {"job_id": "nightly", "--start": "2026-01-01T00:00Z", "--end": "2026-01-01T03:00Z"}
OPTIONS = {name: list(options) for name, options in VALID.items() if name != "runscheduler"}


def argv(data: Any, options: list[str]) -> list[str]:
    chosen = data.draw(st.lists(st.sampled_from(options), unique=True, max_size=3), label="opts")
    args: list[str] = []
    for option in chosen:
        if VALID_FOR[option] is None:
            args.append(option)
            continue
        value = data.draw(st.sampled_from(BOUNDARIES[option]) | option_values, label=option)
        # A value with a leading dash is an option to argparse unless it comes with `=`.
        if value.startswith("-") or data.draw(st.booleans(), label="with ="):
            args.append(f"{option}={value}")
        else:
            args += [option, value]
    if data.draw(st.booleans(), label="junk positional"):
        args.append(data.draw(option_values.filter(lambda v: not v.startswith("-")), label="pos"))
    return args


VALID_FOR = {option: rule for rules in VALID.values() for option, rule in rules.items()}


def expected_error(name: str, args: list[str]) -> list[str] | None:
    """What the CommandError must contain, or None when the command must not raise one.

    argparse converts options left to right and stops at the first bad one; then it checks
    that the required options came; then it refuses what is left over (no command takes a
    positional argument).
    """
    if name == "backfilljob":
        return expected_backfill_error(args)
    rules = VALID[name]
    values: dict[str, str] = {}
    leftover: list[str] = []
    words = iter(args)
    for word in words:
        option, equals, value = word.partition("=")
        if option not in rules:
            leftover.append(word)
            continue
        rule = rules[option]
        if rule is not None and not equals:
            value = next(words)
        values[option] = value
        if rule is not None and not rule(value):
            return [f"Error: argument {option}: ", repr(value)]
    required = REQUIRED.get(name, ())
    if required and not set(required) & set(values):
        if len(required) == 1:
            return [f"the following arguments are required: {required[0]}"]
        return [f"one of the arguments {' '.join(required)} is required"]
    if leftover:
        return [f"Error: unrecognized arguments: {' '.join(leftover)}"]
    if name == "importcalendar":  # a well-formed line naming a file that is not there
        path = values["--file"]
        if "--name" not in values and not calendar_name(Path(path).stem):
            return ["name must be"]
        if not Path(path).is_file():
            return ["cannot read", repr(path)]
    if name == "importschedules":  # the one command that refuses a well-formed command line
        peer = next(
            a.partition("=")[2] or args[i + 1] for i, a in enumerate(args) if a.startswith("--from")
        )
        app = {
            "django-celery-beat": "django_celery_beat",
            "django-apscheduler": "django_apscheduler",
        }[peer]
        if not apps.is_installed(app):
            return [f"{peer} is not installed ({app!r} is not in INSTALLED_APPS)"]
        if peer == "django-apscheduler":
            return ["django-apscheduler jobs not imported"]
    return None


def expected_backfill_error(args: list[str]) -> list[str] | None:
    """backfilljob's: argparse as above, with one positional (the job id) and two required
    options; then the API's checks of the range, in its order; then the job id, which no
    schedule of the fuzz has."""
    rules = VALID["backfilljob"]
    values: dict[str, str] = {}
    positional: list[str] = []
    words = iter(args)
    for word in words:
        option, equals, value = word.partition("=")
        if option not in rules:
            positional.append(word)
            continue
        rule = rules[option]
        if rule is not None and not equals:
            value = next(words)
        values[option] = value
        if rule is not None and not rule(value):
            return [f"Error: argument {option}: ", repr(value)]
    missing = [n for n, there in (("job_id", positional), ("--start", "--start" in values),
                                  ("--end", "--end" in values)) if not there]  # fmt: skip
    if missing:
        return [f"the following arguments are required: {', '.join(missing)}"]
    if len(positional) > 1:
        return [f"Error: unrecognized arguments: {' '.join(positional[1:])}"]
    start = datetime.fromisoformat(values["--start"])
    end = datetime.fromisoformat(values["--end"])
    if start >= end:
        return ["--end: ", "is not after start"]
    if end > datetime.now(UTC):
        return ["--end: ", "is in the future"]
    return [f"no schedule has job id {positional[0]!r}"]


def run(name: str, args: list[str]) -> None:
    """Run the command: it must fail exactly when the oracle says, naming what was wrong."""
    expected = expected_error(name, args)
    try:
        call_command(name, *args, stdout=StringIO(), stderr=StringIO())
    except CommandError as exc:
        message = str(exc)
        assert expected is not None, f"a valid command line was refused: {message}"
        assert all(part in message for part in expected), (expected, message)
    except SystemExit as exc:
        # schedulerstatus's probe codes: no leader alive (1) or lagging (2).
        assert expected is None and name == "schedulerstatus" and exc.code in (1, 2), exc.code
    else:
        assert expected is None, f"accepted, but the oracle expected {expected}"


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
    args = ["--once", *argv(data, [o for o in VALID["runscheduler"] if o != "--once"])]
    run("runscheduler", args)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "option", "value"),
    [
        (name, option, value)
        for name, rules in VALID.items()
        for option in rules
        for value in BOUNDARIES.get(option, [])
    ],
)
def test_each_option_is_refused_by_name_exactly_past_its_edges(
    name: str, option: str, value: str
) -> None:
    once = ["--once"] if name == "runscheduler" else []
    group = REQUIRED.get(name, ())
    required = [] if not group or option in group else [f"{group[0]}=1d"]
    if name == "backfilljob":
        required = [BACKFILL_ARGS["job_id"]]
        required += [f"{o}={v}" for o, v in BACKFILL_ARGS.items() if o not in ("job_id", option)]
    run(name, [*once, *required, f"{option}={value}"])


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
