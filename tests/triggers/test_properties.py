"""Properties every trigger keeps, bad input fuzzing, jitter, and the package's isolation."""

from __future__ import annotations

import itertools
import math
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_schedules.exceptions import TriggerError
from django_schedules.triggers import (
    AndTrigger,
    BaseTrigger,
    CalendarIntervalTrigger,
    CronTrigger,
    DateTrigger,
    IntervalTrigger,
    OrTrigger,
    describe_dst,
    trigger_from_dict,
)
from tests.triggers.helpers import ZONES, rt
from tests.triggers.strategies import aps_fields, crontab_exprs

PACKAGE = Path(__file__).parents[2] / "django_schedules" / "triggers"

instants = st.datetimes(
    datetime(2000, 1, 1), datetime(2060, 1, 1), timezones=st.sampled_from([UTC])
).map(lambda d: d.astimezone(UTC))
zones = st.sampled_from(ZONES)
maybe_jitter = st.one_of(st.none(), st.floats(0.5, 600))


@st.composite
def windows(draw: st.DrawFn) -> tuple[datetime | None, datetime | None]:
    start = draw(st.one_of(st.none(), instants))
    end = draw(st.one_of(st.none(), instants))
    if start and end and end < start:
        start, end = end, start
    return start, end


@st.composite
def cron_triggers(draw: st.DrawFn) -> BaseTrigger:
    start, end = draw(windows())
    zone, jitter = draw(zones), draw(maybe_jitter)
    try:
        if draw(st.booleans()):
            return CronTrigger.from_crontab(
                draw(crontab_exprs()), zone, start_date=start, end_date=end, jitter=jitter
            )
        return CronTrigger(
            **draw(aps_fields()), start_date=start, end_date=end, timezone=zone, jitter=jitter
        )
    except TriggerError:
        return CronTrigger(hour=9, timezone=zone)  # refused as never firing


@st.composite
def interval_triggers(draw: st.DrawFn) -> BaseTrigger:
    start, end = draw(windows())
    return IntervalTrigger(
        seconds=draw(st.integers(1, 10**7)),
        start_date=start,
        end_date=end,
        timezone=draw(zones),
        jitter=draw(maybe_jitter),
    )


@st.composite
def calendar_triggers(draw: st.DrawFn) -> BaseTrigger:
    start, end = draw(windows())
    return CalendarIntervalTrigger(
        years=draw(st.integers(0, 2)),
        months=draw(st.integers(0, 13)),
        weeks=draw(st.integers(0, 3)),
        days=draw(st.integers(1, 40)),
        hour=draw(st.sampled_from([0, 1, 2, 3, 12, 23])),
        minute=draw(st.sampled_from([0, 15, 30, 59])),
        start_date=start,
        end_date=end,
        timezone=draw(zones),
        jitter=draw(maybe_jitter),
    )


simple_triggers = st.one_of(
    cron_triggers(),
    interval_triggers(),
    calendar_triggers(),
    st.builds(DateTrigger, instants, zones),
)


@st.composite
def or_triggers(draw: st.DrawFn) -> BaseTrigger:
    return OrTrigger(draw(st.lists(simple_triggers, min_size=1, max_size=3)))


all_triggers = st.one_of(simple_triggers, simple_triggers, or_triggers())


def utc_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trigger=all_triggers, now=instants)
def test_fire_times_increase_stay_in_the_window_and_are_not_before_now(
    trigger: BaseTrigger, now: datetime
) -> None:
    rt(trigger)
    times = trigger.fire_times(now, 8)
    instants_ = [utc_of(t) for t in times]
    assert instants_ == sorted(set(instants_)), "strictly increasing"
    assert all(t >= now for t in instants_)
    assert all(t.tzinfo is trigger.timezone for t in times)
    if trigger.start_date is not None:
        assert all(t >= utc_of(trigger.start_date) for t in instants_)
    if trigger.end_date is not None:
        assert all(t <= utc_of(trigger.end_date) for t in instants_)
    first = trigger.get_next_fire_time(None, now)
    if isinstance(trigger, DateTrigger):
        assert first == trigger.run_date  # even when it has passed, as APScheduler does
    elif times and not isinstance(trigger, IntervalTrigger | OrTrigger | CalendarIntervalTrigger):
        assert first == times[0]
    if first is not None and not isinstance(trigger, DateTrigger):
        assert utc_of(first) >= now
    for fire in times:
        jitter = trigger.get_jitter(fire)
        assert jitter == trigger.get_jitter(fire)  # deterministic
        assert timedelta(0) <= jitter <= timedelta(seconds=trigger.jitter or 0)
        if trigger.end_date is not None:
            assert utc_of(fire + jitter) <= utc_of(trigger.end_date)
        note = describe_dst(trigger, fire)
        assert note is None or isinstance(note, str)
    assert isinstance(trigger.describe(), str) and trigger.describe()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trigger=st.one_of(cron_triggers(), calendar_triggers()), now=instants)
def test_chaining_from_the_previous_fire_gives_the_same_run(
    trigger: BaseTrigger, now: datetime
) -> None:
    times = trigger.fire_times(now, 6)
    for earlier, later in itertools.pairwise(times):
        pinned = trigger.pinned(now)
        assert pinned.get_next_fire_time(earlier, now) == later
        assert pinned.get_next_fire_time(None, earlier + timedelta(microseconds=1)) == later


def test_jitter_is_deterministic_spread_and_capped_at_the_end_date() -> None:
    trigger = rt(CronTrigger(minute="*", jitter=30))
    fires = trigger.fire_times(datetime(2026, 1, 1, tzinfo=UTC), 200)
    delays = [trigger.get_jitter(f).total_seconds() for f in fires]
    assert all(0 <= d < 30 for d in delays)
    assert len(set(delays)) > 150  # spread, not constant
    assert min(delays) < 3 and max(delays) > 27
    again = rt(CronTrigger(minute="*", jitter=30))
    assert [again.get_jitter(f) for f in fires] == [trigger.get_jitter(f) for f in fires]
    end = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    capped = rt(CronTrigger(minute="*", jitter=3600, end_date=end))
    (fire,) = capped.fire_times(datetime(2026, 1, 1, tzinfo=UTC), 5)
    assert fire + capped.get_jitter(fire) <= end
    assert rt(CronTrigger(minute="*")).get_jitter(fire) == timedelta(0)
    assert CronTrigger(minute="*", jitter=0) == CronTrigger(minute="*")


# -- bad input never raises anything but TriggerError ----------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        ["*", "*/5", "1-5", "mon-fri", "last", "1st mon", "2026-01-01", "Europe/Berlin", "@daily"]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=6,
)
KWARGS = {
    DateTrigger: ["run_date", "timezone"],
    IntervalTrigger: [
        "weeks", "days", "hours", "minutes", "seconds", "start_date", "end_date", "timezone",
        "jitter",
    ],
    CronTrigger: [
        "year", "month", "day", "week", "day_of_week", "hour", "minute", "second", "start_date",
        "end_date", "timezone", "jitter",
    ],
    CalendarIntervalTrigger: [
        "years", "months", "weeks", "days", "hour", "minute", "second", "start_date", "end_date",
        "timezone", "jitter",
    ],
}  # fmt: skip


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cls=st.sampled_from(list(KWARGS)),
    data=st.data(),
)
def test_constructors_raise_only_trigger_error(cls: type[BaseTrigger], data: Any) -> None:
    names = data.draw(st.lists(st.sampled_from(KWARGS[cls]), unique=True, max_size=4))
    kwargs = {name: data.draw(json_values, label=name) for name in names}
    if cls is DateTrigger:
        kwargs.setdefault("run_date", data.draw(json_values, label="run_date"))
    try:
        trigger = cls(**kwargs)
    except TriggerError as exc:
        assert str(exc).startswith("Bad ")
        return
    rt(trigger)
    trigger.fire_times(datetime(2026, 1, 1, tzinfo=UTC), 3)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=40), crontab_exprs().map(lambda e: e.replace("*", "L"))))
def test_from_crontab_raises_only_trigger_error(text: str) -> None:
    try:
        rt(CronTrigger.from_crontab(text))
    except TriggerError as exc:
        assert str(exc).startswith("Bad ")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"version": st.just(1), "kind": st.sampled_from(["date", "interval", "cron"])},
            optional={
                "run_date": json_values,
                "seconds": json_values,
                "hour": json_values,
                "crontab": json_values,
                "timezone": json_values,
                "start_date": json_values,
            },
        ),
        st.fixed_dictionaries(
            {"version": st.just(1), "kind": st.sampled_from(["and", "or"])},
            optional={"triggers": json_values, "jitter": json_values},
        ),
    )
)
def test_trigger_from_dict_raises_only_trigger_error(data: Any) -> None:
    try:
        rt(trigger_from_dict(data))
    except TriggerError as exc:
        assert str(exc).startswith("Bad ")


def test_aware_datetimes_are_required() -> None:
    trigger = CronTrigger(hour=1)
    for call in (
        lambda: trigger.get_next_fire_time(None, datetime(2026, 1, 1)),
        lambda: trigger.get_next_fire_time(datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=UTC)),
        lambda: trigger.fire_times(datetime(2026, 1, 1), 2),
        lambda: trigger.fire_times(datetime(2026, 1, 1, tzinfo=UTC), -1),
        lambda: trigger.get_next_fire_time(None, "2026-01-01"),  # type: ignore[arg-type]
    ):
        try:
            call()
        except TriggerError as exc:
            assert re.match(r"Bad (now|previous_fire_time|count)", str(exc)), exc
        else:
            raise AssertionError("accepted a naive or wrong value")


# -- isolation -------------------------------------------------------------------------------------


def test_importing_the_triggers_imports_no_django() -> None:
    code = (
        "import sys, django_schedules.triggers as t; "
        "assert 'django' not in sys.modules, sorted(m for m in sys.modules if 'django' == m[:6]); "
        "print(t.CronTrigger(hour=9).describe())"
    )
    result = subprocess.run(  # the interpreter running these tests
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "At 09:00 (UTC)"


def test_the_package_never_reads_the_clock_or_imports_django() -> None:
    for path in PACKAGE.glob("*.py"):
        source = path.read_text()
        assert source.startswith('"""') and "from __future__ import annotations" in source
        for banned in ("now(", "today(", "time.time", "import time", "django.conf", "from django "):
            assert banned not in source.replace("import timezone", ""), (path.name, banned)
        assert not re.search(r"^\s*(from|import) django(?!_schedules)", source, re.M), path.name


def test_infinite_and_nan_floats_never_slip_through() -> None:
    for bad in (math.inf, -math.inf, math.nan):
        for call in (
            lambda bad=bad: IntervalTrigger(seconds=bad),
            lambda bad=bad: CronTrigger(hour=1, jitter=bad),
            lambda bad=bad: CalendarIntervalTrigger(days=bad),
        ):
            try:
                call()
            except TriggerError as exc:
                assert repr(bad) in str(exc)
            else:
                raise AssertionError(bad)


def test_and_trigger_round_trips_nested() -> None:
    trigger = rt(
        AndTrigger(
            [
                OrTrigger([CronTrigger(hour="1,2"), CronTrigger(hour=3)]),
                CronTrigger(minute=0, hour="*"),
            ],
            jitter=10,
        )
    )
    assert [t.hour for t in trigger.fire_times(datetime(2026, 1, 1, tzinfo=UTC), 3)] == [1, 2, 3]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cls=st.sampled_from([AndTrigger, OrTrigger]),
    triggers=st.one_of(
        json_values, st.lists(st.one_of(json_values, st.just(CronTrigger(hour=1))), max_size=3)
    ),
    jitter=json_values,
)
def test_combinations_raise_only_trigger_error(
    cls: type[AndTrigger | OrTrigger], triggers: Any, jitter: Any
) -> None:
    try:
        trigger = cls(triggers, jitter=jitter)
    except TriggerError as exc:
        assert str(exc).startswith("Bad ")
        return
    rt(trigger)


def test_with_start_date_pins_only_what_has_a_phase() -> None:
    start = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    cron = rt(CronTrigger(hour=1))
    assert cron.with_start_date(start) is cron
    combined = rt(AndTrigger([IntervalTrigger(hours=1), cron]).with_start_date(start))
    assert [child.start_date for child in combined.triggers] == [start, None]
    calendar = rt(CalendarIntervalTrigger(days=1).with_start_date(start))
    assert calendar.start_date == start
