"""Compare two checkouts on the same machine: `run.py --quick` in each, alternated, and the
medians of our burst rate and idle tick side by side.

    python benchmarks/alternate.py --before ../baseline --after . --rounds 3

Runs before, after, before, after, ... (`--rounds` pairs), each checkout's own
`benchmarks/run.py --quick` with its own `benchmarks/.venv`, so a refactor is measured against
the code it replaced under the same noise. Each run's figures stay in that checkout's
`benchmarks/results/`; the run also rewrites that checkout's docs/performance.md, so point
`--after` at a scratch worktree when the report must not change. Prints every run's figures,
then the medians and the after/before ratio; exits 1 when a median moved by more than
`--tolerance` (10%) in the slower direction.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

# (metric, how to read it): higher is better for a rate, lower for a time.
FIGURES = {"burst_per_s": "higher", "idle_tick_ms": "lower"}


def run(checkout: Path, label: str) -> dict[str, float]:
    """Run `--quick` in `checkout`; return {"<metric> <db> <n>": value} for our system."""
    results = checkout / "benchmarks" / "results"
    before = set(results.glob("*-quick.jsonl")) if results.exists() else set()
    began = time.monotonic()
    print(f"== {label}: {checkout} (run.py --quick)", flush=True)
    subprocess.run(
        [sys.executable, str(checkout / "benchmarks" / "run.py"), "--quick"],
        cwd=checkout,
        check=True,
    )
    (out,) = set(results.glob("*-quick.jsonl")) - before
    figures: dict[str, float] = {}
    for line in out.read_text().splitlines():
        row = json.loads(line)
        if row.get("system") == "ours" and row.get("metric") in FIGURES and row["value"]:
            figures[f"{row['metric']} {row['db']} {row['n']}"] = float(row["value"])
    print(f"   {label} took {time.monotonic() - began:.0f} s: {out.name}", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.10)
    options = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for round_ in range(1, options.rounds + 1):
        for label in ("before", "after"):
            checkout = getattr(options, label).resolve()
            runs[label].append(run(checkout, f"round {round_}/{options.rounds}, {label}"))
    keys = sorted(set().union(*runs["before"], *runs["after"]))
    print(
        "\n| figure | "
        + " | ".join(
            f"{label} {i + 1}" for i in range(options.rounds) for label in ("before", "after")
        )
        + " | median before | median after | after/before |"
    )
    print("|---" * (3 + 2 * options.rounds + 1) + "|")
    worse = []
    for key in keys:
        cells = []
        for i in range(options.rounds):
            for label in ("before", "after"):
                value = runs[label][i].get(key)
                cells.append("-" if value is None else f"{value:,.2f}")
        medians = {
            label: statistics.median([r[key] for r in runs[label] if key in r] or [float("nan")])
            for label in ("before", "after")
        }
        ratio = medians["after"] / medians["before"] if medians["before"] else float("nan")
        better = FIGURES[key.split()[0]]
        if (better == "higher" and ratio < 1 - options.tolerance) or (
            better == "lower" and ratio > 1 + options.tolerance
        ):
            worse.append(key)
        print(
            f"| {key} | " + " | ".join(cells)
            + f" | {medians['before']:,.2f} | {medians['after']:,.2f} | {ratio:.2f} |"
        )  # fmt: skip
    if worse:
        print(f"\nslower by more than {options.tolerance:.0%}: {', '.join(worse)}")
        return 1
    print(f"\nevery median within {options.tolerance:.0%} or better")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
