"""Jobs for the engine tests, registered when tests/engine/conftest.py imports this module."""

from __future__ import annotations

import threading
from typing import Any

from django_schedules import job
from django_schedules.registry import JobContext

RUNS: list[tuple[str, Any]] = []
ATTEMPTS: dict[int, int] = {}
RELEASE = threading.Event()


@job(name="engine.record")
def record(tag: str = "") -> str:
    RUNS.append(("record", tag))
    return f"ran {tag}"


@job(name="engine.boom")
def boom() -> None:
    raise RuntimeError("boom")


@job(name="engine.flaky")
def flaky(failures: int, context: JobContext) -> int:
    """Fail the first `failures` attempts of an execution, then succeed."""
    assert context.execution_id is not None
    ATTEMPTS[context.execution_id] = context.attempt
    if context.attempt <= failures:
        raise ValueError(f"attempt {context.attempt} fails")
    return context.attempt


@job(name="engine.block")
def block(seconds: float = 30.0) -> str:
    """Wait until RELEASE is set (or `seconds` pass)."""
    RELEASE.wait(seconds)
    return "released"


@job(name="engine.big")
def big() -> str:
    return "x" * 10_000


@job(name="engine.async")
async def async_job(x: int) -> int:
    return x * 2
