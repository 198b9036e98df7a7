"""Differential tests: our CronTrigger against APScheduler 3.11, cronsim and croniter.

Each example builds the same schedule in both libraries and walks consecutive fire times from
the same instant. Fire times must be identical (`isoformat()` in the trigger's zone, which also
tells the two passes of a repeated hour apart), except where the reference differs from our
documented rules on purpose. Each such difference is a named exception below, documented in
docs/triggers.md ("Differences from the references"); its check is specific, and anything it
does not recognise fails the test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import cache
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger as ApsCronTrigger
from croniter import croniter
from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from django_schedules.exceptions import TriggerError
from django_schedules.triggers import CronTrigger
from tests.triggers.helpers import (
    ZONES,
    is_gap_end,
    rt,
    transition_between,
    transitions,
    wall_is_real,
    wall_is_repeated,
)

# Named, documented differences (docs/triggers.md, "Differences from the references").
APSCHEDULER_FIXED_TIME_GAP = "APScheduler 3 does not move a fixed time out of a DST gap"
APSCHEDULER_FIXED_TIME_REPEAT = "APScheduler 3 fires a fixed time in both passes of a repeat"
APSCHEDULER_NONEXISTENT_TIME = "APScheduler 3 returns a wall time inside a DST gap"
APSCHEDULER_DST_ARITHMETIC = "APScheduler 3 skips a real occurrence after a DST change"
CRONSIM_HALF_HOUR_SHIFT = "cronsim steps whole hours and misses times after a 30-min shift"
CRONSIM_NONEXISTENT_MIDNIGHT = "cronsim fires at a midnight that falls in a DST gap"
CRONITER_DST = "croniter has its own DST handling"
SEEN: Counter[str] = Counter()

FIRES_PER_EXAMPLE = 12
WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONTH_NAMES = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
]  # fmt: skip


# -- strategies --------------------------------------------------------------------------------


def items(lo: int, hi: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    number = st.integers(lo, hi).map(str)
    # `a-b` with a < b: cronsim reads a one-value range with a step (`5-5/2`) as `5/2`.
    pair = st.tuples(st.integers(lo, hi - 1), st.integers(1, hi - lo)).map(
        lambda t: (t[0], min(hi, t[0] + t[1]))
    )
    ranged = pair.map(lambda p: f"{p[0]}-{p[1]}")
    stepped = st.tuples(pair, st.integers(1, 7)).map(
        lambda t: f"{t[0][0]}-{t[0][1]}/{min(t[1], t[0][1] - t[0][0])}"
    )
    choices = [number, number, ranged, stepped]
    if names:
        name_range = st.tuples(st.integers(0, len(names) - 2), st.integers(1, len(names) - 1)).map(
            lambda t: f"{names[t[0]]}-{names[min(len(names) - 1, t[0] + t[1])]}"
        )
        choices += [st.sampled_from(names), name_range]
    return st.one_of(*choices)


def field(lo: int, hi: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    star = st.one_of(st.just("*"), st.integers(2, max(2, (hi - lo) // 2)).map(lambda n: f"*/{n}"))
    listed = st.lists(items(lo, hi, names), min_size=1, max_size=3).map(",".join)
    return st.one_of(star, listed, listed)


def crontab_exprs() -> st.SearchStrategy[str]:
    upper_days = [n.upper() for n in ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]]
    return st.tuples(
        field(0, 59),
        field(0, 23),
        st.one_of(st.just("*"), field(1, 31)),
        st.one_of(st.just("*"), field(1, 12, [m.upper() for m in MONTH_NAMES])),
        st.one_of(st.just("*"), field(0, 7, upper_days)),
    ).map(" ".join)


DAY_ITEMS = st.one_of(
    items(1, 31),
    st.just("last"),
    st.tuples(
        st.sampled_from(["1st", "2nd", "3rd", "4th", "5th", "last"]),
        st.sampled_from(WEEKDAY_NAMES),
    ).map(" ".join),
)
APS_FIELD_STRATEGIES: dict[str, st.SearchStrategy[str]] = {
    "year": st.sampled_from(["2024-2030", "*/2", "2025,2027", "2026/3"]),
    "month": field(1, 12, MONTH_NAMES),
    "day": st.one_of(st.just("*"), st.lists(DAY_ITEMS, min_size=1, max_size=2).map(",".join)),
    "week": field(1, 53),
    "day_of_week": field(0, 6, WEEKDAY_NAMES),
    "hour": field(0, 23),
    "minute": field(0, 59),
    "second": field(0, 59),
}


@st.composite
def aps_fields(draw: st.DrawFn) -> dict[str, str]:
    chosen = {}
    for name, strategy in APS_FIELD_STRATEGIES.items():
        odds = 0.1 if name in ("year", "week") else 0.5
        if draw(st.floats(0, 1)) < odds:
            chosen[name] = draw(strategy)
    return chosen


@cache
def starts(zone: str) -> st.SearchStrategy[datetime]:
    """Instants in 2024-2026, half of them within two days of one of `zone`'s transitions."""
    anywhere = st.integers(0, 3 * 365 * 86400).map(
        lambda s: datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=s)
    )
    near = [t for t in transitions(zone) if 2024 <= t.year <= 2026]
    if not near:
        return anywhere
    close = st.tuples(st.sampled_from(near), st.integers(-2 * 86400, 2 * 86400)).map(
        lambda t: t[0] + timedelta(seconds=t[1])
    )
    return st.one_of(anywhere, close)


# -- independent matchers (the references' own parsers) ------------------------------------------


def cronsim_matches(expr: str, wall: datetime) -> bool:
    sim = CronSim(expr, datetime(2024, 1, 1))
    return (
        wall.minute in sim.minutes
        and wall.hour in sim.hours
        and wall.month in sim.months
        and sim.match_day(wall.date())
    )


def aps_matches(trigger: Any, wall: datetime) -> bool:
    return all(f.get_next_value(wall) == f.get_value(wall) for f in trigger.fields)


# -- the walk ------------------------------------------------------------------------------------


Classifier = Callable[[datetime, datetime | None, datetime | None], str | None]


def walk(
    ours: CronTrigger,
    first: datetime | None,
    advance: Callable[[datetime], datetime | None],
    start: datetime,
    classify: Classifier,
) -> None:
    """Walk both fire-time sequences from `start`; the first difference must be named."""
    zone = ours.timezone
    mine = ours.get_next_fire_time(None, start)
    theirs = first
    previous = start
    for _ in range(FIRES_PER_EXAMPLE):
        if mine is None and theirs is None:
            return
        same = (
            mine is not None
            and theirs is not None
            and mine.isoformat() == theirs.astimezone(UTC).astimezone(zone).isoformat()
        )
        if not same:
            reason = classify(previous, mine, theirs)
            assert reason is not None, (
                f"{ours!r} from {start.isoformat()}: after {previous.isoformat()} we give "
                f"{mine and mine.isoformat()}, the reference {theirs and theirs.isoformat()}"
            )
            SEEN[reason] += 1
            return
        assert mine is not None and theirs is not None
        previous = mine
        mine = ours.get_next_fire_time(mine, mine)
        theirs = advance(theirs)


def dst_between(zone: str, previous: datetime, *moments: datetime | None) -> bool:
    last = max(m.astimezone(UTC) for m in moments if m is not None)
    return transition_between(zone, previous - timedelta(days=1), last)


# -- from_crontab against cronsim and croniter --------------------------------------------------


def cronsim_classifier(ours: CronTrigger, expr: str, zone: str) -> Classifier:
    """Name cronsim's documented differences from us, or return None."""
    tz = ZoneInfo(zone)

    def cronsim_classify(
        previous: datetime, mine: datetime | None, theirs: datetime | None
    ) -> str | None:
        # cronsim moves to the next hour by adding 3600 s from the top of the hour; after a
        # 30-minute shift earlier that day this lands on half past, so it misses the times
        # before half past (Lord Howe Island).
        if mine is None or theirs is None or ours.fixed_time:
            return None
        # cronsim starts each new day at 00:00 without checking that midnight exists; where
        # midnight falls in a gap (Santiago) it fires at that wall time, which is not real.
        raw = theirs.replace(tzinfo=None)
        if (
            theirs < mine
            and (raw.hour, raw.minute) == (0, 0)
            and not wall_is_real(raw, zone)
            and cronsim_matches(expr, raw)
        ):
            return CRONSIM_NONEXISTENT_MIDNIGHT
        if theirs < mine:
            return None
        shifted = [
            t
            for t in transitions(zone)
            if mine - timedelta(days=1) < t <= mine
            and abs(
                (t.astimezone(tz).utcoffset() or timedelta(0))
                - ((t - timedelta(seconds=1)).astimezone(tz).utcoffset() or timedelta(0))
            )
            == timedelta(minutes=30)
        ]
        wall = mine.astimezone(tz).replace(tzinfo=None)
        if shifted and cronsim_matches(expr, wall) and wall_is_real(wall, zone):
            return CRONSIM_HALF_HOUR_SHIFT
        return None

    return cronsim_classify


@settings(max_examples=1500, deadline=None)
@given(expr=crontab_exprs(), zone=st.sampled_from(ZONES), data=st.data())
def test_from_crontab_agrees_with_cronsim_and_croniter(expr: str, zone: str, data: Any) -> None:
    start = data.draw(starts(zone)).replace(microsecond=0)
    try:
        ours = rt(CronTrigger.from_crontab(expr, timezone=zone))
    except TriggerError as exc:
        # Refused as unfireable: cronsim must find nothing either (it searches 50 years).
        assert "can never fire" in str(exc)
        with pytest.raises(StopIteration):
            next(CronSim(expr, start.astimezone(ZoneInfo(zone))))
        return
    tz = ZoneInfo(zone)
    before = (start - timedelta(seconds=1)).astimezone(tz)

    cronsim_classify = cronsim_classifier(ours, expr, zone)
    sim = CronSim(expr, before)
    walk(ours, next(sim, None), lambda _: next(sim, None), start, cronsim_classify)

    def croniter_classify(
        previous: datetime, mine: datetime | None, theirs: datetime | None
    ) -> str | None:
        # croniter moves and repeats times around DST changes by rules of its own.
        if mine is None or not dst_between(zone, previous, mine, theirs):
            return None
        wall = mine.astimezone(tz).replace(tzinfo=None)
        return CRONITER_DST if cronsim_matches(expr, wall) else None

    # croniter applies the day-of-month/day-of-week OR rule unless told otherwise; tell it
    # Debian's rule: OR only when neither field starts with '*'.
    parts = expr.split()
    day_or = not parts[2].startswith("*") and not parts[4].startswith("*")
    iterator = croniter(expr, before, day_or=day_or)
    walk(
        ours,
        iterator.get_next(datetime),
        lambda _: iterator.get_next(datetime),
        start,
        croniter_classify,
    )


# -- keyword CronTrigger against APScheduler 3.11 ------------------------------------------------


def aps_classifier(ours: CronTrigger, aps: Any, zone: str) -> Classifier:
    """Name APScheduler's documented differences from us, or return None."""
    tz = ZoneInfo(zone)

    def classify(previous: datetime, mine: datetime | None, theirs: datetime | None) -> str | None:
        if mine is None:
            return None
        wall = mine.astimezone(tz).replace(tzinfo=None)
        if theirs is not None:
            their_wall = theirs.replace(tzinfo=None)
            if not wall_is_real(their_wall, zone) and aps_matches(aps, their_wall):
                # APScheduler returns a wall time that does not exist (in a gap).
                if ours.fixed_time and is_gap_end(mine, zone):
                    return APSCHEDULER_FIXED_TIME_GAP
                if not ours.fixed_time:
                    return APSCHEDULER_NONEXISTENT_TIME
            if (
                ours.fixed_time
                and theirs.astimezone(UTC) < mine.astimezone(UTC)
                and theirs.astimezone(UTC).astimezone(tz).fold == 1
                and wall_is_repeated(their_wall, zone)
                and aps_matches(aps, their_wall)
            ):
                return APSCHEDULER_FIXED_TIME_REPEAT
        later = theirs is None or theirs.astimezone(UTC) > mine.astimezone(UTC)
        if ours.fixed_time and is_gap_end(mine, zone) and later:
            return APSCHEDULER_FIXED_TIME_GAP  # APScheduler skipped the moved time entirely
        if (
            later
            and dst_between(zone, previous, mine)
            and aps_matches(aps, wall)
            and wall_is_real(wall, zone)
        ):
            return APSCHEDULER_DST_ARITHMETIC
        return None

    return classify


@settings(max_examples=1500, deadline=None)
@given(fields=aps_fields(), zone=st.sampled_from(ZONES), data=st.data())
def test_keyword_fields_agree_with_apscheduler(
    fields: dict[str, str], zone: str, data: Any
) -> None:
    start = data.draw(starts(zone)).replace(microsecond=data.draw(st.sampled_from([0, 1, 999_999])))
    tz = ZoneInfo(zone)
    aps = ApsCronTrigger(**fields, timezone=zone)
    try:
        ours = rt(CronTrigger(**fields, timezone=zone))
    except TriggerError as exc:
        # We refuse day fields no date can ever match; APScheduler accepts them and searches
        # up to year 9999. Check with APScheduler's own field matching over 28 years, which
        # hold every kind of year.
        assert "no date ever matches" in str(exc)
        day = datetime(2001, 1, 1)
        date_fields = [f for f in aps.fields if f.name in ("month", "day", "week", "day_of_week")]
        while day.year < 2029:
            assert not all(f.get_next_value(day) == f.get_value(day) for f in date_fields)
            day += timedelta(days=1)
        return

    classify = aps_classifier(ours, aps, zone)

    walk(
        ours,
        aps.get_next_fire_time(None, start.astimezone(tz)),
        lambda fire: aps.get_next_fire_time(fire, fire),
        start,
        classify,
    )


def test_apscheduler_from_crontab_numbers_weekdays_from_monday() -> None:
    # The named difference APSCHEDULER_CRONTAB_WEEKDAYS: APScheduler 3's from_crontab passes
    # the day-of-week field through with its own numbering (0 = Monday), so '1-5' means
    # Tuesday to Saturday there; ours follows crontab (1-5 = Monday to Friday).
    now = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
    ours = rt(CronTrigger.from_crontab("0 9 * * 1-5"))
    weekdays = ApsCronTrigger(minute=0, hour=9, day_of_week="mon-fri", timezone="UTC")
    aps_crontab = ApsCronTrigger.from_crontab("0 9 * * 1-5", timezone="UTC")
    mine = [t.weekday() for t in ours.fire_times(now, 5)]
    assert mine == [0, 1, 2, 3, 4]
    fire, theirs = None, []
    for _ in range(5):
        fire = weekdays.get_next_fire_time(fire, fire or now)
        theirs.append(fire.weekday())
    assert theirs == mine
    fire, wrong = None, []
    for _ in range(5):
        fire = aps_crontab.get_next_fire_time(fire, fire or now)
        wrong.append(fire.weekday())
    assert wrong == [1, 2, 3, 4, 5]


def test_the_named_exceptions_are_documented() -> None:
    from pathlib import Path

    docs = (Path(__file__).parents[2] / "docs" / "triggers.md").read_text()
    for name in (
        "APSCHEDULER_FIXED_TIME_GAP",
        "APSCHEDULER_FIXED_TIME_REPEAT",
        "APSCHEDULER_NONEXISTENT_TIME",
        "APSCHEDULER_DST_ARITHMETIC",
        "APSCHEDULER_CRONTAB_WEEKDAYS",
        "CRONSIM_HALF_HOUR_SHIFT",
        "CRONSIM_NONEXISTENT_MIDNIGHT",
        "CRONSIM_ONE_VALUE_RANGE_STEP",
        "CRONITER_DST",
        "CRONITER_DAY_OR",
    ):
        assert f"`{name}`" in docs, name


def test_cronsim_reads_a_one_value_range_with_a_step_differently() -> None:
    # The named difference CRONSIM_ONE_VALUE_RANGE_STEP: cronsim reads `5-5/20` as `5/20`
    # (5, 25, 45); crontab and we read it as the range 5-5 stepped: just 5.
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ours = rt(CronTrigger.from_crontab("5-5/20 * * * *"))
    assert [t.minute for t in ours.fire_times(now, 3)] == [5, 5, 5]
    sim = CronSim("5-5/20 * * * *", now)
    assert [next(sim).minute for _ in range(3)] == [5, 25, 45]


def test_the_named_exceptions_really_occur() -> None:
    # Guard against a classifier that never matches being left in: these walks are known to
    # meet the differences. Berlin: gap on 2024-03-31, repeat on 2024-10-27. Lord Howe shifts
    # by 30 minutes on 2025-10-05 (02:00+10:30 -> 02:30+11:00).
    SEEN.clear()
    zone = "Europe/Berlin"
    for fields in ({"hour": "2", "minute": "30"}, {"day_of_week": "mon"}):
        ours = CronTrigger(**fields, timezone=zone)
        aps = ApsCronTrigger(**fields, timezone=zone)
        for start in (
            datetime(2024, 3, 30, 12, tzinfo=UTC),
            datetime(2024, 10, 26, 12, tzinfo=UTC),
        ):
            walk(
                ours,
                aps.get_next_fire_time(None, start.astimezone(ZoneInfo(zone))),
                lambda fire, aps=aps: aps.get_next_fire_time(fire, fire),
                start,
                aps_classifier(ours, aps, zone),
            )
    expr, zone = "*/30 7 * * *", "Australia/Lord_Howe"
    ours = CronTrigger.from_crontab(expr, timezone=zone)
    start = datetime(2025, 10, 4, 12, tzinfo=UTC)
    sim = CronSim(expr, start.astimezone(ZoneInfo(zone)))
    walk(ours, next(sim), lambda _: next(sim), start, cronsim_classifier(ours, expr, zone))
    # Santiago springs forward at midnight on 2024-09-08 (00:00-04:00 -> 01:00-03:00).
    expr, zone = "* */2 * * 0", "America/Santiago"
    ours = CronTrigger.from_crontab(expr, timezone=zone)
    start = datetime(2024, 9, 8, 3, 59, tzinfo=UTC)
    sim = CronSim(expr, start.astimezone(ZoneInfo(zone)))
    walk(ours, next(sim), lambda _: next(sim), start, cronsim_classifier(ours, expr, zone))
    assert set(SEEN) == {
        CRONSIM_NONEXISTENT_MIDNIGHT,
        APSCHEDULER_FIXED_TIME_GAP,
        APSCHEDULER_FIXED_TIME_REPEAT,
        APSCHEDULER_DST_ARITHMETIC,
        CRONSIM_HALF_HOUR_SHIFT,
    }, SEEN
