"""OpenTelemetry traces (docs/tracing.md): a span for each claim and for each run.

Only the OpenTelemetry *API* is used, and only when it is installed (the extra
``django-schedules[opentelemetry]``); the project's own SDK set-up decides where spans go.
Without the API, or with no SDK configured, every function here costs a check and does
nothing.

A run's span is a child of the claim that created its execution, wherever the run happens:

- in this process (the inline executor, the thread pool), the claim's context is kept in a
  bounded map by execution id (:func:`claimed`) and taken back when the run starts;
- in a process-pool worker or on a task-queue worker, it travels with the run: the W3C
  ``traceparent`` carrier (a small dict of strings, JSON) is sent in the pipe message or as
  the task's last argument (:func:`carrier_for`), and the worker's span is a child of it.

A run with no claim behind it (run now, a row adopted from an earlier leader) is a root span.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from django_schedules.__about__ import __version__

if TYPE_CHECKING:
    from django_schedules.store import Claimed, RunSpec

TRACER = "django_schedules"
CLAIM_SPAN = "schedules.claim"
RUN_SPAN = "schedules.run"

# Claims' contexts waiting for their runs in this process, oldest first. A run that never
# starts here (finished elsewhere, lost) leaves its entry until it is pushed out.
MAX_WAITING = 100_000
_waiting: OrderedDict[int, dict[str, str]] = OrderedDict()
_lock = threading.Lock()
_api: list[ModuleType | None] = []  # [opentelemetry.trace or None], imported on first use
_tracers: list[Any] = []  # our tracer: a proxy until the project sets its SDK's provider


def _trace() -> Any:
    """``opentelemetry.trace``, or None when the API is not installed."""
    if not _api:
        try:
            from opentelemetry import trace
        except ImportError:
            trace = None  # type: ignore[assignment]
        _api.append(trace)
    return _api[0]


def _tracer(trace: Any) -> Any:
    if not _tracers:
        _tracers.append(trace.get_tracer(TRACER, __version__))
    return _tracers[0]


@contextlib.contextmanager
def claim_span(group: str, epoch: int) -> Iterator[Any]:
    """The span of one claim transaction (None without the API)."""
    trace = _trace()
    if trace is None:
        yield None
        return
    attributes = {"schedules.group": group, "schedules.epoch": epoch}
    with _tracer(trace).start_as_current_span(CLAIM_SPAN, attributes=attributes) as span:
        yield span


def claimed(executions: list[Claimed], errors: int) -> None:
    """Record what a claim created on its span (the current one), and keep its context for
    their runs. Called inside the claim transaction, before an executor enqueues in it."""
    trace = _trace()
    if trace is None:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute("schedules.claimed", len(executions))
    span.set_attribute("schedules.errors", errors)
    carrier = _inject(span)
    if not carrier or not executions:
        return
    with _lock:
        for item in executions:
            _waiting[item.execution_id] = carrier
        while len(_waiting) > MAX_WAITING:
            _waiting.popitem(last=False)


def carrier_for(execution_id: int, *, take: bool = True) -> dict[str, str] | None:
    """The claim's context of an execution, to send with it to another process (the
    process pool, a task queue) or to parent its run here; None when there is none.
    `take` forgets it (the run starts); a message that may be sent again keeps it."""
    if not _waiting:
        return None
    with _lock:
        return _waiting.pop(execution_id, None) if take else _waiting.get(execution_id)


@contextlib.contextmanager
def run_span(spec: RunSpec, job_id: str, carrier: dict[str, str] | None) -> Iterator[Any]:
    """The span of one run, a child of `carrier` (its claim's context) when given, else of
    the claim kept in this process, else a root. Yields the span (None without the API)."""
    trace = _trace()
    if trace is None:
        yield None
        return
    if carrier is None:
        carrier = carrier_for(spec.execution_id)
    parent = None
    if carrier:
        from opentelemetry import propagate

        parent = propagate.extract(carrier)
    late = max(time.time() - spec.fire_time.timestamp(), 0.0)
    kind = trace.SpanKind.CONSUMER if carrier else trace.SpanKind.INTERNAL
    with _tracer(trace).start_as_current_span(
        RUN_SPAN, context=parent, kind=kind, record_exception=False
    ) as span:
        if span.is_recording():  # without an SDK, nothing more is built
            span.set_attributes(
                {
                    "schedules.job_id": job_id,
                    "schedules.execution_id": spec.execution_id,
                    "schedules.func": spec.func,
                    "schedules.fire_time": spec.fire_time.isoformat(),
                    "schedules.attempt": spec.attempt,
                    "schedules.lateness_s": late,
                }
            )
        yield span


def ended(span: Any, status: str, attempt: int | None = None) -> None:
    """Record a run's outcome on its span: an error status unless it succeeded."""
    if span is None or not span.is_recording():
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("schedules.status", status or "not_started")
    if attempt is not None:
        span.set_attribute("schedules.attempt", attempt)
    if status and status != "succeeded":
        span.set_status(Status(StatusCode.ERROR, status))


def _inject(span: Any) -> dict[str, str]:
    from opentelemetry import propagate, trace

    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier
