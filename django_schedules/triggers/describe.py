"""Phrases for the triggers' plain-English descriptions, over plain values, and `describe_dst`
for fire-time previews. Each trigger class builds its own description from these."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django_schedules.triggers._common import AMBIGUOUS, ONE_MICROSECOND, ZERO, wall_class

if TYPE_CHECKING:
    from django_schedules.triggers.base import BaseTrigger
    from django_schedules.triggers.combining import BaseCombiningTrigger

# A cron day-of-month item (cron_fields.DayItem): ("range", first, last, step), ("nth",
# position, weekday) or ("last",).
DayItem = tuple[Any, ...]

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def join(words: Sequence[str], last: str = "and") -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {last} {words[-1]}"


def _runs(values: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def set_phrase(values: Sequence[int], name: Callable[[int], str]) -> str:
    """'Monday through Friday', 'January, March and May', '1 through 5 and 20'."""
    parts = []
    for first, last in _runs(values):
        if last - first >= 2:
            parts.append(f"{name(first)} through {name(last)}")
        elif last == first + 1:
            parts.extend([name(first), name(last)])
        else:
            parts.append(name(first))
    return join(parts)


def _step_of(values: Sequence[int], lo: int, hi: int) -> int | None:
    """Return n when `values` is lo, lo+n, lo+2n... up to hi (n > 1), else None."""
    if len(values) < 2 or values[0] != lo:
        return None
    step = values[1] - values[0]
    if step < 2 or list(values) != list(range(lo, hi + 1, step)):
        return None
    return step


def zone_and_window(trigger: BaseTrigger) -> str:
    text = f" ({trigger.timezone.key})"
    if trigger.start_date is not None:
        text += f", from {when(trigger.start_date)}"
    if trigger.end_date is not None:
        text += f", until {when(trigger.end_date)}"
    return text


def when(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M")
    if moment.second or moment.microsecond:
        text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return text


def clock(hour: int, minute: int, second: int) -> str:
    return f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second else "")


def time_phrase(hours: Sequence[int], minutes: Sequence[int], seconds: Sequence[int]) -> str:
    if len(hours) * len(minutes) * len(seconds) <= 4 and len(seconds) == 1:
        times = [clock(h, m, seconds[0]) for h in hours for m in minutes]
        return f"At {join(times)}"
    parts: list[str] = []
    minute_step = _step_of(minutes, 0, 59)
    every_minute = len(minutes) == 60
    if seconds != (0,):
        second_step = _step_of(seconds, 0, 59)
        if len(seconds) == 60:
            parts.append("Every second")
        elif second_step:
            parts.append(f"Every {second_step} seconds")
        else:
            plural = "s" if len(seconds) > 1 else ""
            parts.append(f"At second{plural} {set_phrase(seconds, str)}")
        if every_minute:
            parts.append("of every minute" if parts[0].startswith("At") else "")
        elif minute_step:
            parts.append(f"during every {ordinal(minute_step)} minute")
        else:
            plural = "s" if len(minutes) > 1 else ""
            parts.append(f"during minute{plural} {set_phrase(minutes, str)}")
    elif every_minute:
        parts.append("Every minute")
    elif minute_step:
        parts.append(f"Every {minute_step} minutes")
    else:
        plural = "s" if len(minutes) > 1 else ""
        parts.append(f"At minute{plural} {set_phrase(minutes, str)}")
    # "at minute 5 past hour 9", but "every 15 minutes during hour 9"
    link = "past" if parts[-1].startswith(("At minute", "during minute")) else "during"
    if len(hours) == 24:
        if link == "past" or not (every_minute or minute_step):
            parts.append(f"{link} every hour")
    else:
        step = _step_of(hours, 0, 23)
        if step:
            parts.append(f"{link} every {ordinal(step)} hour")
        else:
            plural = "s" if len(hours) > 1 else ""
            parts.append(f"{link} hour{plural} {set_phrase(hours, str)}")
    return " ".join(part for part in parts if part)


def cron_day_phrase(
    *,
    crontab: bool,
    day: str,
    day_items: Sequence[DayItem],
    dom: Sequence[int],
    dows: Sequence[int],
    day_or: bool,
    weeks: Sequence[int],
    months: Sequence[int],
    years: Sequence[int],
) -> str:
    """Say a cron trigger's days: `dom`, `dows` and `weeks` sorted, `day` its day expression."""
    parts: list[str] = []
    if crontab:
        plural = "s" if len(dom) > 1 else ""
        dom_text = "" if len(dom) == 31 else f"on day{plural} {set_phrase(dom, str)} of the month"
        dow_text = "" if len(dows) == 7 else f"on {set_phrase(dows, lambda d: DAY_NAMES[d])}"
        if dom_text and dow_text:
            joiner = " or " if day_or else " if it is "
            dow_clause = dow_text if day_or else dow_text[3:]
            parts.append(dom_text + joiner + dow_clause)
        elif dom_text or dow_text:
            parts.append(dom_text or dow_text)
    else:
        if day != "*":
            parts.append(_describe_day_items(day_items))
        if dows and len(dows) < 7:
            parts.append(f"on {set_phrase(dows, lambda d: DAY_NAMES[d])}")
        if weeks:
            plural = "s" if len(weeks) > 1 else ""
            parts.append(f"in ISO week{plural} {set_phrase(weeks, str)}")
    if len(months) < 12:
        step = _step_of(months, 1, 12)
        parts.append(
            f"in every {ordinal(step)} month"
            if step
            else f"in {set_phrase(months, lambda m: MONTH_NAMES[m - 1])}"
        )
    if len(years) < 8030:
        parts.append(f"in {set_phrase(years, str)}" if len(years) <= 10 else "in some years")
    return " ".join(parts)


def _describe_day_items(day_items: Sequence[DayItem]) -> str:
    words: list[str] = []
    plain: list[int] = []
    for item in day_items:
        if item[0] == "range":
            _, first, last, step = item
            if step:
                end = "the end of the month" if last is None else f"day {last}"
                words.append(f"every {ordinal(step)} day from day {first} to {end}")
            else:
                plain.extend(range(first, (31 if last is None else last) + 1))
        elif item[0] == "nth":
            _, position, weekday = item
            which = "last" if position == 5 else ordinal(position + 1)
            words.append(f"the {which} {DAY_NAMES[weekday]}")
        else:
            words.append("the last day")
    if plain:
        values = sorted(set(plain))
        words.insert(0, f"day{'s' if len(values) > 1 else ''} {set_phrase(values, str)}")
    return f"on {join(words, 'or')} of the month"


def amount(value: float, unit: str) -> str:
    if value == 1:
        return f"1 {unit}"
    shown = int(value) if float(value).is_integer() else value
    return f"{shown} {unit}s"


def interval_phrase(total: timedelta) -> str:
    """'Every 90 minutes' style: 'Every 1 hour and 30 minutes'."""
    parts = []
    rest = total
    for unit, size in (
        ("week", timedelta(weeks=1)),
        ("day", timedelta(days=1)),
        ("hour", timedelta(hours=1)),
        ("minute", timedelta(minutes=1)),
    ):
        count = rest // size
        if count:
            parts.append(amount(count, unit))
            rest -= count * size
    if rest:
        parts.append(amount(rest.total_seconds(), "second"))
    return every(parts)


def every(parts: Sequence[str]) -> str:
    """'Every day' for ['1 day'], else 'Every 2 days and 3 hours'."""
    if len(parts) == 1 and parts[0].startswith("1 "):
        return f"Every {parts[0][2:]}"
    return f"Every {join(parts)}"


def describe_combination(trigger: BaseCombiningTrigger, lead: str) -> str:
    inner = "; ".join(f"({child.describe()})" for child in trigger.triggers)
    text = f"{lead}: {inner}"
    if trigger.jitter:
        text += f", with up to {trigger.jitter:g} seconds of jitter"
    return text


def describe_dst(trigger: BaseTrigger, fire_time: datetime) -> str | None:
    """Say how daylight saving touches `fire_time`, a fire time of `trigger`; None if not.

    For the admin's preview: the fire time is the first instant after a spring-forward gap,
    which a wall time inside the gap was moved to (the fixed-time rule); or it falls in a
    repeated hour, first or second pass.
    """
    tz = trigger.timezone
    local = fire_time.astimezone(tz)
    wall = local.replace(tzinfo=None, fold=0)
    zone = tz.key
    offset = local.utcoffset() or ZERO
    if wall_class(wall, tz) == AMBIGUOUS:
        pass_no = "second" if local.fold else "first"
        text = (
            f"{wall:%H:%M} happens twice on {wall:%Y-%m-%d} in {zone} (clocks go back); "
            f"this is the {pass_no} time, at UTC{_offset(offset)}"
        )
        return text + trigger.dst_repeat_note()
    before = (local - ONE_MICROSECOND).utcoffset() or ZERO
    if before < offset:
        gap_start = wall - (offset - before)
        moved = trigger.dst_gap_wall(fire_time.astimezone(UTC), gap_start, wall)
        if moved:
            return (
                f"{moved} does not exist on {wall:%Y-%m-%d} in {zone} (clocks go forward "
                f"from {gap_start:%H:%M} to {wall:%H:%M}); it runs at {wall:%H:%M} instead"
            )
    return None


def _offset(offset: timedelta) -> str:
    minutes = offset // timedelta(minutes=1)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"
