"""The JSON-safety checks of a schedule's values (its arguments, its calendars' entries):
what every supported database stores and gives back unchanged. Split from ``options``, which
re-exports them."""

from __future__ import annotations

import math
from typing import Any

from django_schedules.exceptions import InvalidSchedule

# JSON that every supported database stores and gives back unchanged: MariaDB's JSON_VALID
# check refuses nesting deeper than 32, and parsers beyond Python's read integers as 64-bit.
MAX_JSON_DEPTH = 30
MAX_JSON_INT = 2**63 - 1


def short(value: Any) -> str:
    """``repr(value)``, cut to a length an error message can carry."""
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def storable_text(value: str) -> str | None:
    """Return why the databases cannot store the string ``value``, or None when they can.

    PostgreSQL refuses NUL in text and in JSON; a lone surrogate (such as "\\ud800", which
    JSON can spell) has no UTF-8 encoding, so no database driver can send it.
    """
    if "\x00" in value:
        return "it contains a NUL character"
    if any("\ud800" <= char <= "\udfff" for char in value):
        return "it contains a lone surrogate, which has no UTF-8 encoding"
    return None


def json_safe(value: Any, path: str, depth: int = 0, *, field: str | None = None) -> Any:
    """Return ``value`` as plain JSON data (tuples become lists), or raise InvalidSchedule
    naming where in ``path`` a value is not JSON-safe (and ``field`` as its field)."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidSchedule(f"{path} is nested deeper than {MAX_JSON_DEPTH} levels", field)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        problem = storable_text(value)
        if problem:
            raise InvalidSchedule(f"{path} = {short(value)} cannot be stored: {problem}", field)
        return value
    if isinstance(value, int):
        if abs(value) > MAX_JSON_INT:
            raise InvalidSchedule(
                f"{path} = {short(value)} is not JSON-safe: integers must fit in 64 bits", field
            )
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidSchedule(
                f"{path} = {value!r} is not JSON-safe: JSON has no NaN or inf", field
            )
        return value
    if isinstance(value, list | tuple):
        return [
            json_safe(item, f"{path}[{i}]", depth + 1, field=field) for i, item in enumerate(value)
        ]
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str) or storable_text(key):
                raise InvalidSchedule(
                    f"{path} has the key {short(key)}, which is not JSON-safe: keys must be "
                    "strings that the database can store",
                    field,
                )
            result[key] = json_safe(item, f"{path}[{key!r}]", depth + 1, field=field)
        return result
    raise InvalidSchedule(
        f"{path} = {short(value)} is not JSON-safe: a {type(value).__name__} cannot be stored. "
        "Arguments are stored as JSON (never pickled): pass str, int, float, bool, None, "
        "and lists and dicts of them (a datetime as an ISO 8601 string, say)",
        field,
    )
