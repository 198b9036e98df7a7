"""The Prometheus exposition of ``metrics/`` (docs/metrics.md), built per request.

``prometheus_client`` is the optional extra ``django-schedules[prometheus]``: it is imported
only inside functions (``available`` says whether it can be), so the app runs without
it. Each scrape builds its own registry with one collector over ``store.metrics.scrape`` (a
fixed number of queries), never the process's global registry: every figure comes from the
database, so each web process answers the same whichever scheduler process ran the jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django_schedules import store
from django_schedules.conf import conf
from django_schedules.models import FINISHED_STATUSES
from django_schedules.store.metrics import (
    BUCKETS,
    CLAIM_BATCH,
    DURATION,
    INF,
    LATENESS,
    RUNS,
    SUM,
    Scrape,
    bucket_label,
)

EXTRA = "django-schedules[prometheus]"
# The text format version 0.0.4, which generate_latest writes and every Prometheus server
# reads (prometheus_client 0.26's CONTENT_TYPE_LATEST names version 1.0.0 instead).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "django_schedules"
# The statuses runs_total always shows (at 0 before the first), so rate() has a start.
RUN_STATUSES = sorted(s.value for s in FINISHED_STATUSES)

_HISTOGRAMS = (
    (
        LATENESS,
        "lateness_seconds",
        "Seconds from a run's due instant (fire time plus jitter) to its start.",
    ),
    (DURATION, "duration_seconds", "Seconds a run's last attempt took, by the runs finished."),
    (CLAIM_BATCH, "claim_batch_size", "Schedules moved on by one claim of the leader."),
)


def available() -> bool:
    """Whether ``prometheus_client`` can be imported (the extra is installed)."""
    try:
        import prometheus_client  # noqa: F401 - only whether it imports
    except ImportError:
        return False
    return True


def families(data: Scrape) -> Iterator[Any]:
    """The metric families of one scrape, as ``prometheus_client`` metric objects."""
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )

    runs = CounterMetricFamily(
        f"{PREFIX}_runs",
        "Runs finished, by status (missed and skipped occurrences included), since the "
        "counters began; pruning executions does not lower it.",
        labels=["status"],
    )
    statuses = sorted(
        set(RUN_STATUSES) | {label for metric, label in data.counters if metric == RUNS}
    )
    for status in statuses:
        runs.add_metric([status], data.counters.get((RUNS, status), 0.0))
    yield runs

    for metric, name, doc in _HISTOGRAMS:
        cumulative = 0.0
        buckets = []
        for bound in (*BUCKETS[metric], float("inf")):
            label = bucket_label(bound)
            cumulative += data.counters.get((metric, label), 0.0)
            buckets.append((INF if label == INF else label, cumulative))
        histogram = HistogramMetricFamily(f"{PREFIX}_{name}", doc)
        histogram.add_metric([], buckets, data.counters.get((metric, SUM), 0.0))
        yield histogram

    leader = GaugeMetricFamily(
        f"{PREFIX}_leader",
        "1 when the group's lease is held and not expired (by the database's clock).",
        labels=["group"],
    )
    standbys = GaugeMetricFamily(
        f"{PREFIX}_standby_processes",
        "Standby scheduler processes of the group that reported lately.",
        labels=["group"],
    )
    processes = GaugeMetricFamily(
        f"{PREFIX}_processes",
        "Scheduler processes of the group (leader and standbys) that reported lately.",
        labels=["group"],
    )
    epoch = GaugeMetricFamily(
        f"{PREFIX}_lease_epoch",
        "The group's lease epoch: it grows by one with each new leader.",
        labels=["group"],
    )
    for group in data.groups:
        leader.add_metric([group.group], 1.0 if group.leader else 0.0)
        standbys.add_metric([group.group], group.standbys)
        processes.add_metric([group.group], group.processes)
        epoch.add_metric([group.group], group.epoch)
    yield from (leader, standbys, processes, epoch)


# The per-schedule gauges: (name, help). Written by _schedule_series straight to text: at
# 100,000 schedules, building prometheus_client's sample objects took longer than the query.
_PER_SCHEDULE = (
    (
        f"{PREFIX}_next_run_timestamp_seconds",
        "When the schedule runs next (Unix time); absent when it has no next run.",
    ),
    (
        f"{PREFIX}_last_success_timestamp_seconds",
        "When the schedule's latest successful run finished (Unix time); absent before one.",
    ),
    (
        f"{PREFIX}_last_outcome",
        "1 for the status of the schedule's latest finished run (by fire time).",
    ),
)


def _label(value: str) -> str:
    """A label value escaped as the text format wants (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _schedule_series(data: Scrape) -> str:
    """The per-schedule gauges in the text format, each family's samples together."""
    names = [_label(s.job_id) for s in data.schedules]
    (next_run, next_help), (success, success_help), (outcome, outcome_help) = _PER_SCHEDULE
    out = [f"# HELP {next_run} {next_help}\n# TYPE {next_run} gauge\n"]
    out.extend(
        f'{next_run}{{schedule="{name}"}} {s.next_run_at.timestamp()!r}\n'
        for name, s in zip(names, data.schedules, strict=True)
        if s.next_run_at is not None
    )
    out.append(f"# HELP {success} {success_help}\n# TYPE {success} gauge\n")
    out.extend(
        f'{success}{{schedule="{name}"}} {s.last_success_at.timestamp()!r}\n'
        for name, s in zip(names, data.schedules, strict=True)
        if s.last_success_at is not None
    )
    out.append(f"# HELP {outcome} {outcome_help}\n# TYPE {outcome} gauge\n")
    out.extend(
        f'{outcome}{{schedule="{name}",status="{_label(s.last_status)}"}} 1.0\n'
        for name, s in zip(names, data.schedules, strict=True)
        if s.last_status is not None
    )
    return "".join(out)


def exposition(using: str | None = None) -> tuple[bytes, str]:
    """The text exposition of one scrape and its content type. ImportError without the
    extra."""
    from prometheus_client import generate_latest
    from prometheus_client.registry import CollectorRegistry

    data = store.metrics_scrape(ttl=float(conf.SCHEDULES_LEASE_TTL), using=using)

    class _Collector:
        def collect(self) -> Iterator[Any]:
            return families(data)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry) + _schedule_series(data).encode(), CONTENT_TYPE
