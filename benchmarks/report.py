"""Turn one run's JSON lines into docs/performance.md and docs/img/perf-*.png."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
IMG = DOCS / "img"
RESULTS = ROOT / "benchmarks" / "results"
NAMES = {
    "ours": "django-schedules",
    "beat": "django-celery-beat",
    "aps": "django-apscheduler",
    "q2": "django-q2",
    "aps-memory": "APScheduler 3 (memory)",
}
PEERS = ("beat", "aps", "q2")
VENDORS = {"sqlite": "SQLite (WAL)", "postgresql": "PostgreSQL", "mysql": "MariaDB"}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Figures:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.by: dict[tuple[str, str, str, int | None], dict[str, Any]] = {}
        for row in rows:
            if "system" in row:
                self.by[(row["metric"], row["db"], row["system"], row["n"])] = row
        self.vendors = [v for v in VENDORS if any(r.get("db") == v for r in rows)]

    def get(self, metric: str, db: str, system: str, n: int | None) -> dict[str, Any] | None:
        return self.by.get((metric, db, system, n))

    def value(self, metric: str, db: str, system: str, n: int | None) -> float | None:
        row = self.get(metric, db, system, n)
        return None if row is None else row.get("value")

    def sizes(self, metric: str, db: str) -> list[int]:
        return sorted({k[3] for k in self.by if k[0] == metric and k[1] == db and k[3]})

    def text(self, metric: str) -> Any:
        for row in self.rows:
            if row.get("metric") == metric:
                return row.get("text")
        return None


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def ratio(ours: float | None, peers: list[float | None], higher_better: bool) -> str:
    """How many times better than the best peer (above 1: we are better)."""
    values = [p for p in peers if p is not None and p > 0]
    if ours is None or ours <= 0 or not values:
        return "n/a"
    r = ours / max(values) if higher_better else min(values) / ours
    if r >= 1:
        return f"**{r:.2f}x**"
    return f"{r:.2f}x (worse)" if r < 0.995 else f"{r:.3f}x (even)"


def best_ratio(ours: float | None, peers: list[float | None], higher_better: bool) -> float | None:
    values = [p for p in peers if p is not None and p > 0]
    if ours is None or ours <= 0 or not values:
        return None
    return ours / max(values) if higher_better else min(values) / ours


# --- charts ---


def chart(figs: Figures, metric: str, title: str, ylabel: str, name: str, log_y: bool) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vendors = [v for v in figs.vendors if figs.sizes(metric, v)]
    if not vendors:
        return ""
    fig, axes = plt.subplots(1, len(vendors), figsize=(5 * len(vendors), 4), squeeze=False)
    for ax, vendor in zip(axes[0], vendors, strict=True):
        for system in ("ours", *PEERS):
            points = [
                (n, figs.value(metric, vendor, system, n)) for n in figs.sizes(metric, vendor)
            ]
            points = [(n, v) for n, v in points if v is not None and v > 0]
            if points:
                xs, ys = zip(*points, strict=True)
                style = "o-" if system == "ours" else "s--"
                ax.plot(
                    xs, ys, style, label=NAMES[system], linewidth=2.5 if system == "ours" else 1.2
                )
        ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel("schedules")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}: {VENDORS[vendor]}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    IMG.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG / name, dpi=90)
    plt.close(fig)
    return f"![{title}](img/{name})"


def lateness_chart(figs: Figures) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [("lateness_single", "1 schedule, 1 s interval"), ("lateness_spread", "spread")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    drew = False
    for ax, (metric, label) in zip(axes, cases, strict=True):
        systems = ["ours", "aps-memory", "aps"]
        width = 0.8 / max(len(figs.vendors), 1)
        for i, vendor in enumerate(figs.vendors):
            ys = []
            for system in systems:
                row = next(
                    (r for k, r in figs.by.items() if k[:3] == (metric, vendor, system)), None
                )
                ys.append((row or {}).get("p99") or 0)
            xs = [j + i * width for j in range(len(systems))]
            ax.bar(xs, ys, width, label=VENDORS[vendor])
            drew = drew or any(ys)
        ax.set_xticks([j + width * (len(figs.vendors) - 1) / 2 for j in range(len(systems))])
        ax.set_xticklabels([NAMES[s] for s in systems], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("p99 lateness (ms)")
        ax.set_title(f"Lateness p99: {label}")
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(IMG / "perf-lateness.png", dpi=90)
    plt.close(fig)
    return "![Lateness p99](img/perf-lateness.png)" if drew else ""


# --- end to end: benchmarks/sustained.py ---

SUSTAINED_SYSTEMS = ("ours", "aps", "aps-memory")


def sustained_rows() -> list[dict[str, Any]]:
    """The JSON lines of benchmarks/sustained.py kept under benchmarks/results/."""
    return [r for f in sorted(RESULTS.glob("sustained-*.jsonl")) for r in load(f)]


def sustained_chart(rows: list[dict[str, Any]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = [
        r
        for r in rows
        if r.get("metric") == "sustained_p99_ms"
        and (r.get("duration") or 0) < 60
        and r.get("executor") != "processpool"
    ]
    vendors = [v for v in VENDORS if any(r["db"] == v for r in sweep)]
    if not vendors:
        return ""
    fig, axes = plt.subplots(1, len(vendors), figsize=(5 * len(vendors), 4), squeeze=False)
    for ax, vendor in zip(axes[0], vendors, strict=True):
        for system in SUSTAINED_SYSTEMS:
            points = sorted(
                (r["n"], r["p99"])
                for r in sweep
                if r["db"] == vendor and r["system"] == system and r.get("p99")
            )
            if points:
                xs, ys = zip(*points, strict=True)
                style = "o-" if system == "ours" else "s--"
                width = 2.5 if system == "ours" else 1.2
                ax.plot(xs, ys, style, label=NAMES[system], linewidth=width)
        ax.axhline(20, color="grey", linestyle=":", linewidth=1, label="20 ms")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("runs due a second")
        ax.set_ylabel("p99 start lateness (ms)")
        ax.set_title(f"Sustained, end to end: {VENDORS[vendor]}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    IMG.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMG / "perf-sustained.png", dpi=90)
    plt.close(fig)
    return "![Sustained p99 start lateness against the rate](img/perf-sustained.png)"


def sustained_section(rows: list[dict[str, Any]]) -> list[str]:
    """Runs that start on time and are recorded, end to end: the sweep and the burst."""
    if not rows:
        return []
    out = [
        "## End to end: runs started on time and recorded",
        "",
        "What a user feels: one real `manage.py runscheduler` with the default settings "
        "(thread pool of 10), R interval schedules due a second spread over a 5-second "
        "window, a job that returns the instant its first line ran; a run counts once its "
        "row says `succeeded`. Lateness is that instant minus the fire time. django-apscheduler "
        "(`DjangoJobStore`, a `DjangoJobExecution` row per run) and APScheduler 3 in memory "
        "run the same load in the same run. Ceiling: the highest rate with p99 at most 20 ms "
        "and at least 99.5% of the runs started. `benchmarks/sustained.py`; raw lines in "
        "`benchmarks/results/sustained-*.jsonl`.",
        "",
    ]
    runs = [r for r in rows if r.get("metric") == "sustained_p99_ms"]
    pool = [r for r in runs if r.get("executor") == "processpool"]
    runs = [r for r in runs if r.get("executor") != "processpool"]
    sweep = [r for r in runs if (r.get("duration") or 0) < 60]
    long = [r for r in runs if (r.get("duration") or 0) >= 60]
    if long:
        out += [
            "**Sustained for a minute or more** (ours alone, the default thread pool):",
            "",
            *table(
                ["database", "runs/s", "seconds", "started and recorded", "p50", "p99", "earliest"],
                [
                    [
                        VENDORS[r["db"]],
                        f"{r['n']:,}",
                        f"{r['duration']:g}",
                        f"{r['started']:,} of {r['expected']:,} ({r['started_share']:.1%})",
                        f"{fmt(r['p50'])} ms",
                        f"{fmt(r['p99'])} ms",
                        f"{fmt(r['min_ms'])} ms",
                    ]
                    for r in long
                ],
            ),
            "",
        ]
    for vendor in VENDORS:
        mine = [r for r in sweep if r["db"] == vendor]
        if not mine:
            continue
        rates = sorted({r["n"] for r in mine})
        header = ["runs/s", *(NAMES[s] for s in SUSTAINED_SYSTEMS)]
        body = []
        for rate in rates:
            cells = [f"{rate:,}"]
            for system in SUSTAINED_SYSTEMS:
                row = next((r for r in mine if r["n"] == rate and r["system"] == system), None)
                if row is None or row.get("p99") is None:
                    cells.append("n/a")
                else:
                    cells.append(
                        f"p99 {fmt(row['p99'])} ms, p50 {fmt(row['p50'])} ms, "
                        f"{row['started_share']:.1%} started"
                    )
            body.append(cells)
        seconds = {r.get("duration") for r in mine if r.get("duration")}
        out += [
            f"**{VENDORS[vendor]}**"
            + (
                f" ({', '.join(f'{d:g} s' for d in sorted(seconds))} of load a rate)"
                if seconds
                else ""
            ),
            "",
        ]
        out += table(header, body)
        ceilings = [r for r in rows if r.get("metric") == "sustained_ceiling" and r["db"] == vendor]
        if ceilings:
            said = ", ".join(
                NAMES[r["system"]]
                + (f" {fmt(r['value'], 0)}/s" if r["value"] else " below the lowest rate")
                for r in ceilings
            )
            out += ["", f"Ceilings: {said}."]
        out.append("")
    if pool:
        out += [
            "**The process pool** (ours, `processpool` with its default 2 workers, one process "
            "per core):",
            "",
            *table(
                ["database", "runs/s", "started and recorded", "p50", "p99"],
                [
                    [
                        VENDORS[r["db"]],
                        f"{r['n']:,}",
                        f"{r['started_share']:.1%}",
                        f"{fmt(r['p50'])} ms",
                        f"{fmt(r['p99'])} ms",
                    ]
                    for r in sorted(pool, key=lambda r: (r["db"], r["n"]))
                ],
            ),
            "",
        ]
    out.append(sustained_chart(rows))
    bursts = [r for r in rows if r.get("metric") == "burst_end_to_end_s"]
    if bursts:
        out += [
            "",
            "**Burst, end to end**: N schedules due at one instant (`misfire_grace_time=None`, "
            "so none is folded into a `missed` row), the default thread pool; seconds after "
            "the instant until the last Execution row was created (the claim alone), the last "
            "run started, and the last run's end was recorded, from the same run.",
            "",
        ]
        out += table(
            ["database", "schedules", "claim only", "last run started", "last recorded", "started"],
            [
                [
                    VENDORS[r["db"]],
                    f"{r['n']:,}",
                    f"{r['claim_only_s']:.1f} s",
                    f"{r['last_start_s']:.1f} s",
                    f"{r['last_recorded_s']:.1f} s",
                    f"{r['started']:,}",
                ]
                for r in bursts
            ],
        )
    out.append("")
    return out


# --- the report ---


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def write(path: Path, meta: dict[str, Any]) -> None:
    figs = Figures(load(path))
    m = meta["machine"]
    out: list[str] = ["# Performance", ""]
    out += [
        "django-schedules measured against django-celery-beat (`DatabaseScheduler`), "
        "django-apscheduler (APScheduler 3 `BackgroundScheduler` with `DjangoJobStore`) and "
        "django-q2 (its `scheduler()` with the ORM broker), side by side in one run, on the "
        "same machine and the same database. **Ratios** compare us with the best peer measured "
        "in the same run: above 1 means we are better by that factor (faster, leaner, less "
        "late), below 1 means worse. Absolute times on this shared 2-core machine are noisy "
        "(other engineers' test suites ran at the same time); the ratios are what counts.",
        "",
        f"- Command: `{meta['command']}` (took {meta['seconds'] // 60} min "
        f"{meta['seconds'] % 60} s; finished {meta['finished']})",
        f"- Machine: `nproc` = {m['nproc']}, memory {m['memory']}, Python {m['python']}, "
        + ", ".join(f"{VENDORS.get(k[3:], k[3:])} {v}" for k, v in m.items() if k[:3] == "db:"),
        f"- Raw figures: `benchmarks/results/{path.name}` (JSON lines, not committed)",
    ]
    if meta.get("engine"):
        out.append(f"- Engine benchmarked: {meta['engine']}")
    if meta.get("notes"):
        out.append(f"- Note: {meta['notes']}")
    if meta.get("quick"):
        out.append(
            "- This is a `--quick` run: 1k and 10k schedules, SQLite and PostgreSQL, shorter "
            "lateness and failover runs (lease TTL 4 s). The full run adds 100k and MariaDB."
        )
    out += ["", *sustained_section(sustained_rows())]
    out += ["", "## Targets", ""]
    out += targets(figs, meta)
    out += ["", "## What is not met, and what limits it", ""]
    out += limits(figs)

    # 1. Idle tick
    out += ["", "## 1. Idle tick", ""]
    out += [
        "One scheduler wake-up with nothing due: ours `Scheduler.tick()` (lease held), beat "
        "`DatabaseScheduler.tick()`, django-apscheduler `BackgroundScheduler._process_jobs()` "
        "(the body of its wake-up), django-q2 `scheduler()`. Median over up to 200 ticks; "
        "queries counted with `CaptureQueriesContext` (median of 5 ticks).",
        "",
    ]
    for vendor in figs.vendors:
        rows = []
        for n in figs.sizes("idle_tick_ms", vendor):
            cells = [f"{n:,}"]
            vals = {}
            for system in ("ours", *PEERS):
                ms = figs.value("idle_tick_ms", vendor, system, n)
                q = figs.value("idle_tick_queries", vendor, system, n)
                vals[system] = ms
                cells.append(f"{fmt(ms, 3)} ms ({fmt(q, 0)} q)")
            cells.append(ratio(vals["ours"], [vals[p] for p in PEERS], False))
            rows.append(cells)
        out += [f"**{VENDORS[vendor]}**", ""]
        out += table(
            ["schedules", *[NAMES[s] for s in ("ours", *PEERS)], "ours vs best peer"], rows
        )
        out.append("")
    wake = [
        f"{VENDORS[v]}: {fmt(figs.value('idle_wakeups_per_min', v, 'ours', 1), 0)}"
        for v in figs.vendors
        if figs.value("idle_wakeups_per_min", v, "ours", 1) is not None
    ]
    if wake:
        out += [
            "Wake-ups a minute of our running loop with one schedule due in an hour and no "
            "changes: " + "; ".join(wake) + ".",
            "",
        ]
    out += [chart(figs, "idle_tick_ms", "Idle tick", "ms per tick", "perf-idle-ms.png", True)]
    out += [
        "",
        chart(
            figs,
            "idle_tick_queries",
            "Idle tick queries",
            "queries per tick",
            "perf-idle-queries.png",
            False,
        ),
    ]

    # 2. Burst
    out += ["", "## 2. Burst firing", ""]
    out += [
        "N schedules all due at the same instant; the time until every one has its execution "
        "recorded and its next run advanced (job bodies empty). Ours: `tick()` until it returns "
        "a wait, with an executor that takes the claimed executions and does nothing (the rows "
        "are recorded `pending`, as a worker would receive them). beat: `tick()` until every "
        "entry is published to an in-memory broker, then `sync()` (it writes `last_run_at` "
        "there). django-apscheduler: from `start()` until every job has a "
        "`DjangoJobExecution` row and a later `next_run_time`. django-q2: one `scheduler()` "
        "call (a task queued in `OrmQ` and `next_run` saved for each). Schedules per second; "
        "\\* means the peer was stopped at the cap and the rate is over what it fired.",
        "",
    ]
    for vendor in figs.vendors:
        rows = []
        for n in figs.sizes("burst_per_s", vendor):
            cells = [f"{n:,}"]
            vals = {}
            for system in ("ours", *PEERS):
                row = figs.get("burst_per_s", vendor, system, n)
                vals[system] = None if row is None else row["value"]
                star = "\\*" if row and row.get("capped") else ""
                secs = f" ({row['seconds']:.2f} s)" if row else ""
                cells.append(f"{fmt(vals[system], 0)}/s{star}{secs}")
            cells.append(ratio(vals["ours"], [vals[p] for p in PEERS], True))
            rows.append(cells)
        out += [f"**{VENDORS[vendor]}**", ""]
        out += table(
            ["schedules", *[NAMES[s] for s in ("ours", *PEERS)], "ours vs best peer"], rows
        )
        out.append("")
    out += [
        chart(figs, "burst_per_s", "Burst firing", "schedules per second", "perf-burst.png", True)
    ]

    # 3. Lateness
    out += ["", "## 3. Lateness", ""]
    out += [
        "Job start minus scheduled fire time. One schedule on a 1-second interval (the three "
        "schedulers side by side in one process), then schedules spread evenly over a window "
        "on an interval of that window (each scheduler alone). Ours runs `BackgroundScheduler` "
        f"with its defaults (claim ahead {lookahead_ms(figs)}, thread pool); APScheduler in "
        "memory and django-apscheduler run `BackgroundScheduler` with their default thread "
        "pool. beat and django-q2 hand jobs to a broker and workers, so their lateness "
        "includes a queue hop; not measured here (django-q2's scheduler runs every 30 s: "
        "see 5).",
        "",
    ]
    for metric, title in (("lateness_single", "single schedule"), ("lateness_spread", "spread")):
        rows = []
        for vendor in figs.vendors:
            found = {k[2]: r for k, r in figs.by.items() if k[:2] == (metric, vendor)}
            if not found:
                continue
            cells = [VENDORS[vendor]]
            for system in ("ours", "aps-memory", "aps"):
                r = found.get(system)
                if r is None or not r.get("count"):
                    cells.append("n/a")
                    continue
                cells.append(
                    f"{fmt(r['p50'])} / {fmt(r['p99'])} / {fmt(r['max'])} "
                    f"(n={r['count']} of {r.get('expected', '?')})"
                )
            ours = (found.get("ours") or {}).get("p99")
            peers = [(found.get(s) or {}).get("p99") for s in ("aps-memory", "aps")]
            cells.append(ratio(ours, peers, False))
            rows.append(cells)
            n = next(iter(found.values()))["n"]
        if rows:
            noun = "schedule" if n == 1 else "schedules"
            out += [f"**{title}** ({n:,} {noun}), p50 / p99 / max in ms", ""]
            out += table(
                ["database", NAMES["ours"], NAMES["aps-memory"], NAMES["aps"], "p99 vs best peer"],
                rows,
            )
            out.append("")
    out += [lateness_chart(figs)]

    # 4. Memory
    out += ["", "## 4. Memory", ""]
    out += [
        "Peak RSS (`getrusage`) of a fresh process running each scheduler for 3 s over the "
        "schedules (all due in an hour): ours `BackgroundScheduler` (loop, timer thread, "
        "thread pool), beat `DatabaseScheduler` ticking, django-apscheduler started with "
        "`DjangoJobStore`, django-q2's `scheduler()` (its cluster adds worker processes, not "
        "counted). Every process imports all four apps, so the baseline is the same "
        '("after imports").',
        "",
    ]
    for vendor in figs.vendors:
        rows = []
        for n in figs.sizes("peak_rss_mb", vendor):
            cells = [f"{n:,}"]
            vals = {}
            for system in ("ours", *PEERS):
                row = figs.get("peak_rss_mb", vendor, system, n)
                vals[system] = None if row is None else row["value"]
                base = f" ({row['baseline_mb']:.0f})" if row else ""
                cells.append(f"{fmt(vals[system], 1)} MB{base}")
            cells.append(ratio(vals["ours"], [vals[p] for p in PEERS], False))
            rows.append(cells)
        out += [f"**{VENDORS[vendor]}** (peak, after imports in brackets)", ""]
        out += table(
            ["schedules", *[NAMES[s] for s in ("ours", *PEERS)], "ours vs best peer"], rows
        )
        out.append("")
    out += [chart(figs, "peak_rss_mb", "Peak RSS", "MB", "perf-memory.png", False)]

    # 5. Change pickup
    out += ["", "## 5. Change pickup", ""]
    out += [
        "From a committed change (ours: `modify_job(next_run_time=now)`, the admin's save "
        "path; beat: a new one-off clocked `PeriodicTask` saved as the admin saves it) to the "
        "scheduler acting on it (ours: the job starts; beat: the task is published), with the "
        "scheduler running in its own thread. django-apscheduler: the job's `next_run_time` "
        "changed through a second `DjangoJobStore` (another process's view) while the "
        "scheduler sleeps.",
        "",
    ]
    rows = []
    for vendor in figs.vendors:
        cells = [VENDORS[vendor]]
        for system in ("ours", "beat"):
            r = figs.get("pickup", vendor, system, 1)
            cells.append(
                "n/a"
                if not r or not r.get("count")
                else f"{fmt(r['p50'])} / {fmt(r['max'])} ms (n={r['count']})"
            )
        r = figs.get("pickup", vendor, "aps", 1)
        if r is None:
            cells.append("n/a")
        elif r.get("picked_up"):
            cells.append(f"{fmt((r['value'] or 0) * 1000)} ms")
        else:
            cells.append(f"not picked up in {r['waited']:g} s (needs a restart)")
        q2 = figs.get("pickup", vendor, "q2", 1)
        if q2 and q2.get("count"):
            cells.append(f"{fmt(q2['p50'] / 1000)} / {fmt(q2['max'] / 1000)} s (n={q2['count']})")
        else:
            cells.append("up to 30 s by design (not measured in this run)")
        ours = (figs.get("pickup", vendor, "ours", 1) or {}).get("max")
        beat = (figs.get("pickup", vendor, "beat", 1) or {}).get("max")
        cells.append(ratio(ours, [beat, (q2 or {}).get("max")], False))
        rows.append(cells)
    out += table(
        [
            "database",
            f"{NAMES['ours']} p50 / max",
            f"{NAMES['beat']} p50 / max",
            NAMES["aps"],
            f"{NAMES['q2']} p50 / max",
            "max vs best peer",
        ],
        rows,
    )
    out += [
        "",
        "django-q2: the cluster's guard calls `scheduler()` when its counter reaches 30 s "
        "(`django_q/cluster.py`, `Sentinel.guard`: `if counter >= 30 and Conf.SCHEDULER`), so a "
        "change waits up to 30 s. Measured with a real `manage.py qcluster` and a `Schedule` "
        "saved due now: the time until its scheduler created the task (full run only; in the "
        "run of 2026-11-25 each change was saved 0.5 to 3 s after the previous pickup, so its "
        "figures sit near the 30 s worst case rather than the 15 s average).",
    ]

    # 6. Failover
    out += ["", "## 6. Failover", ""]
    out += [
        "Two `manage.py runscheduler` processes (leader and hot standby) and a schedule on a "
        "1-second interval: the time from the leader's SIGKILL (or SIGTERM) to the first job "
        "started by the standby (its `Execution.started_at`), so up to a second of it is the "
        "interval's phase.",
        "",
    ]
    rows = []
    for vendor in figs.vendors:
        kill = figs.get("failover_kill", vendor, "ours", 1)
        term = figs.get("failover_term", vendor, "ours", 1)
        if kill is None and term is None:
            continue
        ttl = (kill or term or {}).get("lease_ttl")
        rows.append(
            [
                VENDORS[vendor],
                f"{ttl:g} s" if ttl else "?",
                f"{fmt(kill['value'])} s" if kill and kill["value"] is not None else "none",
                f"{fmt(term['value'])} s" if term and term["value"] is not None else "none",
            ]
        )
    out += table(["database", "lease TTL", "after SIGKILL", "after SIGTERM"], rows)
    out += [
        "",
        "The peers cannot do this measurement: django-celery-beat must run as exactly one "
        "process (a second beat fires every task twice; it has no lock or standby); "
        "django-apscheduler has no leader election either (its docs say to run the scheduler "
        "in one dedicated process); django-q2 clusters all run the scheduler (active-active, "
        "`select_for_update` on the schedule rows), so a survivor fires at its next 30-second "
        "scheduler cycle.",
    ]

    # 7. Triggers
    out += ["", "## 7. Trigger math", ""]
    text = figs.text("triggers")
    out += [
        "`benchmarks/triggers.py` (the triggers issue's table), run in the same job:",
        "",
        "```",
        (text or "not run").rstrip(),
        "```",
    ]

    # Profiles
    out += ["", "## Profiles of our hot paths", ""]
    sizes = {k[1]: k[3] for k in figs.by if k[0] == "burst_profiled_per_s"}
    for name, title in (("burst", "Burst claim"), ("idle", "Idle tick, 200 ticks, 10k schedules")):
        for vendor in figs.vendors:
            prof = RESULTS / f"profile-{name}-{vendor}.txt"
            if prof.exists():
                body = "\n".join(prof.read_text().splitlines()[:70])
                out += [
                    "<details>",
                    f"<summary>pyinstrument: {title}{size_note(name, vendor, sizes)}, "
                    f"{VENDORS[vendor]}</summary>",
                    "",
                    "```",
                    body,
                    "```",
                    "</details>",
                    "",
                ]
    failures = figs.text("failures")
    if failures:
        out += ["", "## Measurements that failed in this run", ""]
        out += [f"- {f}" for f in failures]
    DOCS.mkdir(exist_ok=True)
    (DOCS / "performance.md").write_text("\n".join(out).rstrip() + "\n")


def lookahead_ms(figs: Figures) -> str:
    for key, row in figs.by.items():
        if key[0].startswith("lateness") and row.get("lookahead") is not None:
            return f"{row['lookahead'] * 1000:g} ms"
    return "its default look-ahead"


def size_note(name: str, vendor: str, sizes: dict[str, int | None]) -> str:
    n = sizes.get(vendor)
    return f", {n:,} schedules" if name == "burst" and n else ""


def targets(figs: Figures, meta: dict[str, Any]) -> list[str]:
    """The issue's targets, each met or not, with the figure."""
    rows: list[list[str]] = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "**not met**")

    for vendor in figs.vendors:
        v = VENDORS[vendor]
        sizes = figs.sizes("idle_tick_ms", vendor)
        qs = [figs.value("idle_tick_queries", vendor, "ours", n) for n in sizes]
        ms = [figs.value("idle_tick_ms", vendor, "ours", n) for n in sizes]
        if sizes and None not in qs and None not in ms:
            flat = max(ms) / min(ms)  # type: ignore[type-var, operator]
            rows.append(
                [
                    f"1. idle tick: one query, flat time ({v})",
                    f"{fmt(max(qs), 0)} query; {flat:.2f}x from {sizes[0]:,} to {sizes[-1]:,}",
                    verdict(max(qs) <= 1 and flat < 1.5),
                ]
            )  # type: ignore[type-var]
        ours10 = figs.value("idle_tick_ms", vendor, "ours", 10000)
        beat10 = figs.value("idle_tick_ms", vendor, "beat", 10000)
        if ours10 and beat10:
            rows.append(
                [
                    f"1. idle tick at 10k: 10x faster than beat ({v})",
                    f"{beat10 / ours10:.1f}x",
                    verdict(beat10 / ours10 >= 10),
                ]
            )
        if vendor == "postgresql":
            w = figs.value("idle_wakeups_per_min", vendor, "ours", 1)
            if w is not None:
                rows.append(
                    [
                        "1. PostgreSQL: no wake-up between due times",
                        f"{w:.0f} wake-ups a minute",
                        verdict(w < 5),
                    ]
                )
        for n in figs.sizes("burst_per_s", vendor):
            ours = figs.value("burst_per_s", vendor, "ours", n)
            if ours is not None:
                peers = [figs.value("burst_per_s", vendor, p, n) for p in PEERS]
                r = best_ratio(ours, peers, True)
                rows.append(
                    [
                        f"2. burst: 10,000 a second ({v}, {n:,})",
                        f"{ours:,.0f}/s ({r:.2f}x the best peer)" if r else f"{ours:,.0f}/s",
                        verdict(ours >= 10000),
                    ]
                )
        single = figs.get("lateness_single", vendor, "ours", 1)
        if single and single.get("count"):
            aps_mem = (figs.get("lateness_single", vendor, "aps-memory", 1) or {}).get("p99")
            rows.append(
                [
                    f"3. lateness, 1 schedule: p99 < 10 ms ({v})",
                    f"p99 {fmt(single['p99'])} ms",
                    verdict(single["p99"] < 10),
                ]
            )
            if aps_mem:
                rows.append(
                    [
                        f"3. ...and below APScheduler in memory ({v})",
                        f"{fmt(single['p99'])} vs {fmt(aps_mem)} ms",
                        verdict(single["p99"] < aps_mem),
                    ]
                )
        spread = next(
            (r for k, r in figs.by.items() if k[:3] == ("lateness_spread", vendor, "ours")), None
        )
        if spread and spread.get("count"):
            complete = spread["count"] >= spread.get("expected", 0)
            rows.append(
                [
                    f"3. lateness, {spread['n']:,} spread: p99 < 100 ms ({v})",
                    f"p99 {fmt(spread['p99'])} ms "
                    f"({spread['count']} of {spread.get('expected')} ran)",
                    verdict(spread["p99"] < 100 and complete),
                ]
            )
            aps_mem = next(
                (
                    r
                    for k, r in figs.by.items()
                    if k[:3] == ("lateness_spread", vendor, "aps-memory")
                ),
                {},
            ).get("p99")
            if aps_mem:
                rows.append(
                    [
                        f"3. ...and below APScheduler in memory ({v})",
                        f"{fmt(spread['p99'])} vs {fmt(aps_mem)} ms",
                        verdict(spread["p99"] < aps_mem),
                    ]
                )
        mem_sizes = figs.sizes("peak_rss_mb", vendor)
        if mem_sizes:
            mem = [figs.value("peak_rss_mb", vendor, "ours", n) or 0 for n in mem_sizes]
            rows.append(
                [
                    f"4. memory < 100 MB and flat ({v})",
                    " / ".join(f"{x:.0f}" for x in mem)
                    + f" MB at {', '.join(f'{n:,}' for n in mem_sizes)}",
                    verdict(max(mem) < 100 and max(mem) - min(mem) < 10),
                ]
            )
        pick = figs.get("pickup", vendor, "ours", 1)
        if pick and pick.get("count"):
            limit = 100 if vendor == "postgresql" else 500
            rows.append(
                [
                    f"5. change pickup < {limit} ms ({v})",
                    f"max {fmt(pick['max'])} ms",
                    verdict(pick["max"] < limit),
                ]
            )
        kill = figs.get("failover_kill", vendor, "ours", 1)
        term = figs.get("failover_term", vendor, "ours", 1)
        if kill:
            ok = kill["value"] is not None and kill["value"] <= kill["lease_ttl"] + 1
            rows.append(
                [
                    f"6. failover after SIGKILL <= TTL + 1 s ({v})",
                    f"{fmt(kill['value'])} s (TTL {kill['lease_ttl']:g} s)",
                    verdict(ok),
                ]
            )
        if term:
            ok = term["value"] is not None and term["value"] < 1
            rows.append(
                [f"6. failover after SIGTERM < 1 s ({v})", f"{fmt(term['value'])} s", verdict(ok)]
            )
    text = figs.text("triggers") or ""
    for line in text.splitlines():
        if line.startswith("Smallest ratio"):
            rows.append(
                [
                    "7. trigger math faster than cronsim, croniter, APScheduler",
                    line,
                    verdict("faster" in line),
                ]
            )
    return table(["target", "measured", "verdict"], rows)


PROFILE_LINE = re.compile(
    r"^(?P<pre>[ |`]*?)(?P<mark>[|`]-) (?P<t>\d+\.\d+) (?P<fn>\S+)\s+(?P<loc>\S+)"
)


def profile_children(name: str, vendor: str, anchor: str) -> list[tuple[str, str, float]]:
    """The functions directly under `anchor` in this run's pyinstrument profile
    (benchmarks/results/profile-<name>-<vendor>.txt), as (function, file:line, share of the
    anchor's time), largest first; [] when there is no such profile."""
    path = RESULTS / f"profile-{name}-{vendor}.txt"
    if not path.exists():
        return []
    column: int | None = None
    total = 0.0
    children: list[tuple[str, str, float]] = []
    for line in path.read_text().splitlines():
        match = PROFILE_LINE.match(line)
        if match is None:
            continue
        at = len(match["pre"])
        if column is None:
            if match["fn"] == anchor:
                column, total = at, float(match["t"])
            continue
        if at <= column:
            break
        if at == column + 3 and total:
            children.append((match["fn"], match["loc"], float(match["t"]) / total))
    return sorted(children, key=lambda c: -c[2])


def profile_shares(name: str, vendor: str, anchor: str, n: int = 4) -> str:
    """'`f` (file:line) 48%, ...' for the top `n` children of `anchor`, or ''. Where one
    child takes nine tenths or more, the shares are those inside it ('inside `g`: ...')."""
    path: list[str] = []
    children = profile_children(name, vendor, anchor)
    for _ in range(5):
        if not children or children[0][2] < 0.9:
            break
        path.append(children[0][0])
        deeper = profile_children(name, vendor, children[0][0])
        if not deeper:
            break
        children = deeper
    shares = ", ".join(f"`{fn}` ({loc}) {share:.0%}" for fn, loc, share in children[:n])
    return f"inside `{path[-1]}`: {shares}" if path and shares else shares


def limits(figs: Figures) -> list[str]:
    """Why the targets that are not met are not, from this run's figures and profiles.

    Each bullet appears only when its target is missed in this run, and what it says about
    the code comes from this run's profiles (benchmarks/results/profile-*.txt, printed at the
    end of the report), so the text cannot outlive the engine it describes.
    """
    lines: list[str] = []
    bursts = [
        (v, n, figs.value("burst_per_s", v, "ours", n))
        for v in figs.vendors
        for n in figs.sizes("burst_per_s", v)
    ]
    slow = [b for b in bursts if b[2] and b[2] < 10_000]
    if slow:
        low = min(slow, key=lambda b: b[2] or 0)
        high = max(slow, key=lambda b: b[2] or 0)
        per_query = [
            f"{VENDORS[k[1]]}: {r['queries'] / max(r['fired'], 1) * 100:.0f}"
            for k, r in figs.by.items()
            if k[0] == "burst_profiled_per_s" and r.get("queries")
        ]
        profiles = [
            f"{VENDORS[v]}: {shares}"
            for v in figs.vendors
            if (shares := profile_shares("burst", v, "attempt"))
        ]
        lines.append(
            f"- **Burst firing** (target 10,000 a second): {len(slow)} of {len(bursts)} "
            f"measurements fall short, from {low[2]:,.0f} a second ({VENDORS[low[0]]}, "
            f"{low[1]:,} schedules) to {high[2]:,.0f} ({VENDORS[high[0]]}, {high[1]:,}): "
            f"{low[2] / 10_000:.0%} to {high[2] / 10_000:.0%} of the target. "
            "The statements are not what grows: a batch costs a fixed number of them "
            f"(queries per 100 schedules fired: {', '.join(per_query) or 'not profiled'}). "
            "The claim transaction's time (`claiming.claim_batch()`'s `attempt`) goes, by the "
            "burst profiles below, to "
            + ("; ".join(profiles) if profiles else "(no profile in this run)")
            + ". That is Python work per due schedule inside one transaction on two cores "
            "shared with the database server; a faster claim would need less of it per row "
            "(fewer objects built per schedule, or the batch planned outside the "
            "transaction), not fewer statements."
        )
    for v in figs.vendors:
        sizes = figs.sizes("idle_tick_ms", v)
        ms = [figs.value("idle_tick_ms", v, "ours", n) for n in sizes]
        if len(sizes) < 2 or None in ms:
            continue
        spread = max(ms) / min(ms)  # type: ignore[type-var, operator]
        if spread < 1.5:  # the target's test (targets())
            continue
        at = ", ".join(f"{m:.3f} ms at {n:,}" for m, n in zip(ms, sizes, strict=True))
        if ms[-1] < max(ms):  # type: ignore[operator]
            lines.append(
                f"- **Idle tick on {VENDORS[v]}** ({spread:.2f}x between sizes): {at}, one "
                "query at each. The slowest is not the largest table, so this is not growth "
                "with the schedules but the noise of one run's medians on a shared machine; "
                "a second run would tell."
            )
            continue
        lines.append(
            f"- **Idle tick on {VENDORS[v]} is not flat** ({spread:.2f}x): {at}, still one "
            "query. The probe reads `schedules_due_idx` (a partial index on `next_run_at` "
            "where `enabled`; tests/engine/test_explain.py asserts it in `.explain()` on all "
            "three databases), so the growth is in the database's work for that one "
            "statement, not in the number of statements. Idle profile: "
            + (profile_shares("idle", v, "Scheduler.tick") or "none in this run")
            + "."
        )
    ours_ms = [
        (
            v,
            figs.value("idle_tick_ms", v, "ours", 10000),
            figs.value("idle_tick_ms", v, "aps", 10000),
        )
        for v in figs.vendors
    ]
    behind = [x for x in ours_ms if x[1] and x[2] and x[1] > x[2]]
    if behind:
        lines.append(
            "- **Idle tick time against django-apscheduler** (10,000 schedules): "
            + ", ".join(f"{x[1]:.2f} ms against {x[2]:.2f} ms ({VENDORS[x[0]]})" for x in behind)
            + ". django-apscheduler's wake-up runs two trivial queries and keeps its jobs in "
            "memory; ours is one query that also checks the lease and notices changes (its SQL "
            "compiled once per process, `store._compiled_probe()`). Where the tick's time goes, "
            "by the idle profiles: "
            + "; ".join(
                f"{VENDORS[x[0]]}: {profile_shares('idle', x[0], 'Scheduler.tick') or 'none'}"
                for x in behind
            )
            + "."
        )
    wake = figs.get("idle_wakeups_per_min", "postgresql", "ours", 1)
    if wake and wake.get("value") and wake["value"] >= 1:
        ttl = wake.get("lease_ttl")
        upkeep = 60 / (ttl / 3) if ttl else None
        explained = upkeep is not None and wake["value"] <= upkeep * 1.25 + 1
        lines.append(
            f"- **PostgreSQL wake-ups**: {wake['value']:.0f} a minute with nothing due. "
            + (
                f"With LISTEN the loop sleeps until the next upkeep (`Scheduler._until_upkeep`"
                f"): the lease's renewal every third of its {ttl:g} s TTL, which the heartbeats "
                f"share, {upkeep:.0f} a minute. No wake-up at all is not possible while the "
                "lease needs renewing: a holder that never wrote would look dead."
                if explained
                else f"That is more than the lease's renewals ({upkeep:.0f} a minute at this "
                "TTL) explain; not investigated in this run."
                if upkeep
                else "The run did not record the lease TTL, so the renewals' share is unknown."
            )
        )
    spread = [
        (v, r, figs.by.get(("lateness_spread", v, "aps-memory", r["n"])))
        for (m, v, sys_, _n), r in figs.by.items()
        if m == "lateness_spread" and sys_ == "ours" and r.get("count")
    ]
    slower = [(v, r, a) for v, r, a in spread if a and a.get("p99") and r["p99"] >= a["p99"]]
    if slower:
        lines.append(
            "- **Lateness of a spread load against APScheduler in memory**: p99 "
            + ", ".join(
                f"{r['p99']:.1f} ms against {a['p99']:.1f} ms ({VENDORS[v]})" for v, r, a in slower
            )
            + f" ({slower[0][1]['n']:,} schedules spread over the window). Every run of ours "
            "is a share of a claim transaction plus its worker's writes "
            "(`store.start_execution()`, pending to running, then `store.finish_execution()`),"
            " against none for a scheduler that keeps no record; the job waits for its instant"
            " after its start is written (`runner.run_execution_now()`), so it starts late "
            "when that work, the GIL or the database server (on the same two cores) holds it "
            f"past the {lookahead_ms(figs)} look-ahead. A reading of the code, not a profile."
        )
    for (m, v, sys_, _n), r in figs.by.items():
        if m != "lateness_single" or sys_ != "ours" or not r.get("count") or r["p99"] < 10:
            continue
        mem = figs.get("lateness_single", v, "aps-memory", 1) or {}
        lines.append(
            f"- **Lateness of one schedule on {VENDORS[v]}**: p50 {r['p50']:.2f} ms but p99 "
            f"{r['p99']:.1f} ms (max {r['max']:.1f} ms) over {r['count']} starts. The three "
            "schedulers shared one process and two cores with the database server; APScheduler"
            f" in memory had p99 {mem.get('p99', 0):.1f} ms in the same minute. Not profiled: "
            "a longer run on a quiet machine would tell noise from cause."
        )
    for v in figs.vendors:
        r = figs.get("pickup", v, "ours", 1)
        limit = 100 if v == "postgresql" else 500
        if not r or not r.get("count") or r["max"] < limit:
            continue
        if v == "mysql":
            cause = (
                "MariaDB has no change signal, so the loop finds a change at its next poll "
                "(every poll interval, 0.5 s by default) and the job starts after the claim and"
                " the executor's start: a change can wait a whole interval plus those "
                "milliseconds. A shorter `SCHEDULES_POLL_INTERVAL` trades idle queries for it."
            )
        elif v == "sqlite":
            cause = (
                "the `PRAGMA data_version` waker (`_SqliteWaker`) checks every 50 ms, so the "
                "slowest was found by the poll rather than by the waker; not investigated "
                "further in this run."
            )
        else:
            cause = "LISTEN should wake the loop at once; not investigated in this run."
        lines.append(
            f"- **Change pickup on {VENDORS[v]}** (target {limit} ms): p50 {r['p50']:.0f} ms, "
            f"max {r['max']:.0f} ms over {r['count']} changes: {cause}"
        )
    if not lines:
        lines.append("Every target measured in this run is met.")
    return lines
