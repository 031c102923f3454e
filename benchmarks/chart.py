"""A PNG bar chart of one pass, for the README: throughput, latency and cost side by side."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .report import PassResult
from .stats import summarize

if TYPE_CHECKING:
    from matplotlib.axes import Axes

THROUGHPUT = [
    ("enqueue_single", "enqueue\n1 by 1"),
    ("enqueue_batch", "enqueue\nbatch"),
    ("drain_p1", "drain\n1 proc"),
    ("drain_p2", "drain\n2 procs"),
    ("drain_p4", "drain\n4 procs"),
    ("sleep_io", "sleep-io\n10 ms"),
]
LATENCY = [
    ("lat500_start_p50", "p50\n@500/s"),
    ("lat500_start_p99", "p99\n@500/s"),
    ("lat2000_start_p99", "p99\n@2000/s"),
]
COST = [
    ("redis_us_enqueue_single", "Redis\nenqueue 1"),
    ("redis_us_lifecycle", "Redis\nenq.+proc."),
    ("worker_us_process", "worker\ndrain"),
]


def draw(p: PassResult, systems: list[str], path: Path, title: str) -> None:
    """Grouped bars (median, whiskers min-max) per metric, one colour per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [s for s in systems if s in p.samples]
    fig, (left, middle, right) = plt.subplots(
        1, 3, figsize=(15, 4.8), gridspec_kw={"width_ratios": [3, 1.4, 1.4]}
    )
    _bars(left, p, present, THROUGHPUT)
    left.set_ylabel("jobs/s, log scale (higher is better)")
    _bars(middle, p, present, LATENCY)
    middle.set_ylabel("enqueue → handler start, ms (lower is better)")
    _bars(right, p, present, COST)
    right.set_ylabel("CPU µs per job (lower is better)")
    for ax in (left, middle, right):
        ax.set_yscale("log")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(present), frameon=False)
    fig.suptitle(title, y=0.02, fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.92))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(ax: Axes, p: PassResult, systems: list[str], metrics: list[tuple[str, str]]) -> None:
    shown = [
        (k, label) for k, label in metrics if any(p.samples.get(s, {}).get(k) for s in systems)
    ]
    width = 0.8 / max(1, len(systems))
    for j, system in enumerate(systems):
        xs, heights, lows, highs = [], [], [], []
        for x, (metric, _) in enumerate(shown):
            summary = summarize(p.samples.get(system, {}).get(metric, []))
            if summary is None:
                continue
            xs.append(x - 0.4 + width * (j + 0.5))
            heights.append(summary.median)
            lows.append(summary.median - summary.low)
            highs.append(summary.high - summary.median)
        ax.bar(xs, heights, width, yerr=[lows, highs], capsize=2, label=system)
    ax.set_xticks(range(len(shown)), [label for _, label in shown], fontsize=8)
    ax.grid(axis="y", alpha=0.3)
