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
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger as ApsCronTrigger
from croniter import croniter
from cronsim import CronSim, CronSimError
from hypothesis import HealthCheck, given, settings
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
from tests.triggers.strategies import aps_fields, crontab_exprs, starts

# Named, documented differences (docs/triggers.md, "Differences from the references").
APSCHEDULER_FIXED_TIME_GAP = "APScheduler 3 does not move a fixed time out of a DST gap"
APSCHEDULER_FIXED_TIME_REPEAT = "APScheduler 3 fires a fixed time in both passes of a repeat"
APSCHEDULER_NONEXISTENT_TIME = "APScheduler 3 returns a wall time inside a DST gap"
APSCHEDULER_DST_ARITHMETIC = "APScheduler 3 skips a real occurrence after a DST change"
CRONSIM_HALF_HOUR_SHIFT = "cronsim steps whole hours and misses times after a 30-min shift"
CRONSIM_NONEXISTENT_MIDNIGHT = "cronsim fires at a midnight that falls in a DST gap"
CRONSIM_STARTS_IN_SECOND_PASS = "cronsim started in a repeated hour's second pass goes back"
CRONSIM_SKIPS_AFTER_MIDNIGHT_GAP = "cronsim skips real times early on a day with no midnight"
CRONITER_DST = "croniter has its own DST handling"
SEEN: Counter[str] = Counter()

FIRES_PER_EXAMPLE = 12


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


def next_aps(aps: Any, fire: datetime) -> datetime | None:
    result: datetime | None = aps.get_next_fire_time(fire, fire)
    return result


def utc_of(moment: datetime) -> datetime:
    # Aware arithmetic on a zoned datetime is wall-clock arithmetic; do it in UTC.
    return moment.astimezone(UTC)


def dst_between(zone: str, previous: datetime, *moments: datetime | None) -> bool:
    last = max(m.astimezone(UTC) for m in moments if m is not None)
    return transition_between(zone, utc_of(previous) - timedelta(days=1), last)


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
        if mine is None or theirs is None:
            return None
        if ours.fixed_time:
            # Started inside the second pass of a repeated hour, cronsim drops the fold and
            # returns a first-pass time, which is before the start.
            start_local = previous.astimezone(tz)
            if (
                start_local.fold == 1
                and theirs.astimezone(UTC) < previous
                and cronsim_matches(expr, theirs.replace(tzinfo=None))
            ):
                return CRONSIM_STARTS_IN_SECOND_PASS
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
        # The same gap the other way: on a day whose midnight does not exist (Santiago springs
        # from 00:00 to 01:00), cronsim starts the day from that midnight and steps past real
        # times such as 01:00 to 01:59, to a later hour or a later day.
        wall = mine.astimezone(tz).replace(tzinfo=None)
        if (
            not wall_is_real(wall.replace(hour=0, minute=0, second=0), zone)
            and wall_is_real(wall, zone)
            and cronsim_matches(expr, wall)
        ):
            return CRONSIM_SKIPS_AFTER_MIDNIGHT_GAP
        shifted = [
            t
            for t in transitions(zone)
            if utc_of(mine) - timedelta(days=1) < t <= mine
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


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=crontab_exprs(), zone=st.sampled_from(ZONES), data=st.data())
def test_from_crontab_agrees_with_cronsim_and_croniter(expr: str, zone: str, data: Any) -> None:
    start = data.draw(starts(zone)).replace(microsecond=0)
    try:
        ours = rt(CronTrigger.from_crontab(expr, timezone=zone))
    except TriggerError as exc:
        # Refused as unfireable: cronsim must refuse it too, at once (when both day fields
        # must match, it rejects a day-of-month past every chosen month's last day) or by
        # finding nothing in the 50 years it searches.
        assert "can never fire" in str(exc)
        try:
            sim = CronSim(expr, start.astimezone(ZoneInfo(zone)))
        except CronSimError as refusal:
            assert str(refusal) == "Bad day-of-month", refusal
            return
        with pytest.raises(StopIteration):
            next(sim)
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


@pytest.mark.parametrize("expr", ["* * 30 2 *", "0 0 31 4,6,9,11 *", "0 12 30,31 2 *"])
def test_a_crontab_that_can_never_fire_is_refused_here_and_by_cronsim(expr: str) -> None:
    # The generated expressions reach this only now and then; the branch above runs each time.
    with pytest.raises(TriggerError, match="can never fire"):
        CronTrigger.from_crontab(expr)
    with pytest.raises(CronSimError, match="Bad day-of-month"):
        CronSim(expr, datetime(2024, 1, 1, tzinfo=UTC))


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
        if (
            theirs is not None
            and not ours.fixed_time
            and theirs.astimezone(UTC) == previous.astimezone(UTC)
            and transition_between(zone, utc_of(previous) - timedelta(hours=1), previous)
        ):
            # ...and after a nonexistent wall time, the same instant again as a real one.
            return APSCHEDULER_NONEXISTENT_TIME
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


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=aps_fields(), zone=st.sampled_from(ZONES), data=st.data())
def test_keyword_fields_agree_with_apscheduler(
    fields: dict[str, Any], zone: str, data: Any
) -> None:
    start = data.draw(starts(zone)).replace(microsecond=data.draw(st.sampled_from([0, 1, 999_999])))
    tz = ZoneInfo(zone)
    aps = ApsCronTrigger(**fields, timezone=zone)
    try:
        ours = rt(CronTrigger(**fields, timezone=zone))
    except TriggerError as exc:
        # We refuse day fields no date can ever match; APScheduler accepts them and searches
        # up to year 9999. Check with APScheduler's own field matching: 28 years hold every
        # kind of year; with a year field, every year it allows up to 2100.
        assert "no date ever matches" in str(exc)
        date_fields = [
            f for f in aps.fields if f.name in ("year", "month", "day", "week", "day_of_week")
        ]
        day = datetime(2001 if "year" not in fields else 1970, 1, 1)
        while day.year < (2029 if "year" not in fields else 2101):
            assert not all(f.get_next_value(day) == f.get_value(day) for f in date_fields), day
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
        "CRONSIM_STARTS_IN_SECOND_PASS",
        "CRONSIM_SKIPS_AFTER_MIDNIGHT_GAP",
        "CRONITER_DST",
        "CRONITER_DAY_OR",
    ):
        assert f"`{name}`" in docs, name


def test_a_one_value_range_with_a_step_is_that_one_value_here_and_in_cronsim() -> None:
    # cronsim 2.8 read `5-5/20` as `5/20` (5, 25, 45), a named difference until 2.9 read it as
    # crontab does: the range 5-5 stepped, just 5, at the top of each hour.
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ours = list(rt(CronTrigger.from_crontab("5-5/20 * * * *")).fire_times(now, 3))
    sim = CronSim("5-5/20 * * * *", now)
    theirs = [next(sim) for _ in range(3)]
    assert [(t.hour, t.minute) for t in ours] == [(0, 5), (1, 5), (2, 5)]
    assert theirs == ours


def test_the_named_exceptions_really_occur() -> None:
    # Guard against a classifier that never matches being left in: these walks are known to
    # meet the differences. Berlin: gap on 2024-03-31, repeat on 2024-10-27. Lord Howe shifts
    # by 30 minutes on 2025-10-05 (02:00+10:30 -> 02:30+11:00).
    SEEN.clear()
    zone = "Europe/Berlin"
    choices: list[dict[str, Any]] = [{"hour": "2", "minute": "30"}, {"day_of_week": "mon"}]
    for fields in choices:
        ours = CronTrigger(**fields, timezone=zone)
        aps = ApsCronTrigger(**fields, timezone=zone)
        for start in (
            datetime(2024, 3, 30, 12, tzinfo=UTC),
            datetime(2024, 10, 26, 12, tzinfo=UTC),
        ):
            walk(
                ours,
                aps.get_next_fire_time(None, start.astimezone(ZoneInfo(zone))),
                partial(next_aps, aps),
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
    # The same Sunday from one second before the gap: 01:00-03:00 is real; cronsim skips it.
    expr = "* 1 * * 0"
    ours = CronTrigger.from_crontab(expr, timezone=zone)
    start = datetime(2024, 9, 8, 3, 59, 59, tzinfo=UTC)
    sim = CronSim(expr, (start - timedelta(seconds=1)).astimezone(ZoneInfo(zone)))
    assert ours.get_next_fire_time(None, start).isoformat() == "2024-09-08T01:00:00-03:00"
    walk(ours, next(sim), lambda _: next(sim), start, cronsim_classifier(ours, expr, zone))
    # Berlin's second pass through 02:xx on 2024-10-27 starts at 01:00 UTC.
    expr, zone = "1 2 * * *", "Europe/Berlin"
    ours = CronTrigger.from_crontab(expr, timezone=zone)
    start = datetime(2024, 10, 27, 1, 0, 1, tzinfo=UTC)
    sim = CronSim(expr, (start - timedelta(seconds=1)).astimezone(ZoneInfo(zone)))
    walk(ours, next(sim), lambda _: next(sim), start, cronsim_classifier(ours, expr, zone))
    # Lord Howe 2024-10-06: 02:00+10:30 -> 02:30+11:00.
    fields = {"hour": "2", "minute": "*", "second": "*"}
    zone = "Australia/Lord_Howe"
    ours = CronTrigger(**fields, timezone=zone)
    aps = ApsCronTrigger(**fields, timezone=zone)
    start = datetime(2024, 10, 5, 15, 29, 59, tzinfo=UTC)
    walk(
        ours,
        aps.get_next_fire_time(None, start.astimezone(ZoneInfo(zone))),
        lambda fire: aps.get_next_fire_time(fire, fire),
        start,
        aps_classifier(ours, aps, zone),
    )
    assert set(SEEN) == {
        APSCHEDULER_NONEXISTENT_TIME,
        CRONSIM_STARTS_IN_SECOND_PASS,
        CRONSIM_NONEXISTENT_MIDNIGHT,
        CRONSIM_SKIPS_AFTER_MIDNIGHT_GAP,
        APSCHEDULER_FIXED_TIME_GAP,
        APSCHEDULER_FIXED_TIME_REPEAT,
        APSCHEDULER_DST_ARITHMETIC,
        CRONSIM_HALF_HOUR_SHIFT,
    }, SEEN
