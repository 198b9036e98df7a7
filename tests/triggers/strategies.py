"""Hypothesis strategies for trigger arguments, shared by the trigger tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from hypothesis import strategies as st

from tests.triggers.helpers import transitions

WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONTH_NAMES = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
]  # fmt: skip


def items(lo: int, hi: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    number = st.integers(lo, hi).map(str)
    # `a-b` with a < b: APScheduler refuses `5-5/1` and croniter reads an hour of `0-0` as `*`
    # field; one-value ranges are pinned by a test of their own in test_differential.py.
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
