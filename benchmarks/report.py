"""Results as one JSON document and as Markdown tables, built from the collected samples.

Ratios are streamq's median over the other system's median, from the same run, so that
machine noise between runs does not enter them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .stats import summarize
from .workloads import Metric

PERSISTENCE_TITLES = {"none": "no persistence", "aof-everysec": "AOF appendfsync everysec"}

# What the issue asks of streamq on a 2-core machine: (metric, bound, "min"|"max").
TARGETS: list[tuple[str, float, str]] = [
    ("drain_p1", 15_000, "min"),
    ("enqueue_batch", 20_000, "min"),
    ("lat500_start_p50", 2.0, "max"),
    ("lat500_start_p99", 8.0, "max"),
    ("sleep_io", 8_000, "min"),
    ("rss_drain_mib", 40.0, "max"),
    ("rss_sleep_mib", 40.0, "max"),
    ("redis_bytes_per_job", 600.0, "max"),
]
CEILING_SHARE_TARGET = ("drain_p1", 0.45)


@dataclass
class PassResult:
    """Everything measured against one Redis server."""

    persistence: str
    redis_version: str = ""
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, system: str, values: dict[str, float]) -> None:
        into = self.samples.setdefault(system, {})
        for metric, value in values.items():
            into.setdefault(metric, []).append(value)

    def median(self, system: str, metric: str) -> float | None:
        summary = summarize(self.samples.get(system, {}).get(metric, []))
        return summary.median if summary else None

    def ratios(self, systems: list[str], metrics: dict[str, Metric]) -> dict[str, dict[str, float]]:
        """streamq / other, per metric, for every other system with a value."""
        out: dict[str, dict[str, float]] = {}
        for metric in metrics:
            ours = self.median("streamq", metric)
            if ours is None:
                continue
            for other in systems:
                theirs = self.median(other, metric)
                if other != "streamq" and theirs:
                    out.setdefault(metric, {})[other] = ours / theirs
        return out


def to_json(
    meta: dict[str, Any],
    systems: dict[str, dict[str, Any]],
    passes: list[PassResult],
    metrics: dict[str, Metric],
) -> dict[str, Any]:
    order = list(systems)
    return {
        "schema": 1,
        **meta,
        "metrics": {
            k: {"label": m.label, "unit": m.unit, "higher_is_better": m.higher_is_better}
            for k, m in metrics.items()
        },
        "systems": systems,
        "passes": [
            {
                "persistence": p.persistence,
                "redis_version": p.redis_version,
                "results": {
                    system: {
                        metric: {"samples": values, **_summary_dict(values)}
                        for metric, values in by_metric.items()
                    }
                    for system, by_metric in p.samples.items()
                },
                "ratios_streamq_over": p.ratios(order, metrics),
                "errors": p.errors,
                "skipped": p.skipped,
            }
            for p in passes
        ],
    }


def _summary_dict(values: list[float]) -> dict[str, Any]:
    summary = summarize(values)
    return summary.as_dict() if summary else {}


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, allow_nan=False, default=_clean) + "\n")


def _clean(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else str(value)


# -- Markdown ---------------------------------------------------------------------------


def _cell(p: PassResult, system: str, metric: str, m: Metric) -> str:
    summary = summarize(p.samples.get(system, {}).get(metric, []))
    if summary is None:
        return "—"
    if summary.n == 1 or summary.low == summary.high:
        return m.fmt.format(summary.median)
    return (
        f"{m.fmt.format(summary.median)} ({m.fmt.format(summary.low)}-{m.fmt.format(summary.high)})"
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def pass_tables(p: PassResult, systems: list[str], metrics: dict[str, Metric]) -> list[str]:
    present = [s for s in systems if s in p.samples]
    wanted = [k for k in metrics if any(k in p.samples[s] for s in present)]
    rows = [
        [metrics[k].label, metrics[k].unit, *(_cell(p, s, k, metrics[k]) for s in present)]
        for k in wanted
    ]
    lines = _table(["metric", "unit", *present], rows)
    ratios = p.ratios(present, metrics)
    others = [s for s in present if s != "streamq"]
    if ratios and others:
        lines += [
            "",
            "streamq ÷ other (same run, medians; > 1 is better for throughput, "
            "< 1 is better for latency and memory):",
            "",
        ]
        ratio_rows = [
            [
                metrics[k].label,
                *(f"{ratios[k][o]:.3g}x" if o in ratios.get(k, {}) else "—" for o in others),
            ]
            for k in wanted
            if k in ratios
        ]
        lines += _table(["metric", *others], ratio_rows)
    return lines


def targets_table(p: PassResult) -> list[str]:
    """streamq against the issue's targets (measured, not asserted)."""
    rows = []
    for metric, bound, kind in TARGETS:
        value = p.median("streamq", metric)
        if value is None:
            continue
        ok = value >= bound if kind == "min" else value <= bound
        sign = "≥" if kind == "min" else "≤"
        rows.append([metric, f"{sign} {bound:g}", f"{value:,.2f}", "met" if ok else "missed"])
    metric, share = CEILING_SHARE_TARGET
    ours, ceiling = p.median("streamq", metric), p.median("ceiling", metric)
    if ours and ceiling:
        ok = ours / ceiling >= share
        rows.append(
            [
                f"{metric} ÷ ceiling",
                f"≥ {share:.0%}",
                f"{ours / ceiling:.0%}",
                "met" if ok else "missed",
            ]
        )
    return _table(["streamq target", "bound", "median", ""], rows) if rows else []


def markdown(document: dict[str, Any], passes: list[PassResult], metrics: dict[str, Metric]) -> str:
    systems: dict[str, dict[str, Any]] = document["systems"]
    order = list(systems)
    out = [
        f"# streamq benchmarks ({document['mode']})",
        "",
        f"{document['started']} · {document['machine']['cpus']} cores · "
        f"Python {document['machine']['python']} · redis-server "
        f"{document['machine']['redis_server']} · {document['sizes']['repeats']} repeat(s), "
        "median (min-max)",
        "",
        f"Command: `{document['command']}` · streamq {document['source']['streamq_source']}"
        f" ({document['source']['commit'][:10]})",
        "",
    ]
    for p in passes:
        out += [f"## Redis with {PERSISTENCE_TITLES.get(p.persistence, p.persistence)}", ""]
        out += pass_tables(p, order, metrics)
        targets = targets_table(p)
        if targets:
            out += ["", *targets]
        problems = [
            f"- {s}, {step}: {why}"
            for missing in (p.errors, p.skipped)
            for s, by in missing.items()
            for step, why in by.items()
        ]
        if problems:
            out += ["", "Not measured:", "", *problems]
        out.append("")
    out += ["## Systems", ""]
    for name, info in systems.items():
        if not info.get("available"):
            out.append(f"- **{name}**: not run: {info.get('reason')}")
            continue
        versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
        out.append(f"- **{name}** ({versions}; Python {info.get('python')})")
        out += [f"  - {k}: {v}" for k, v in info.get("config", {}).items()]
    out += ["", "## Method", "", *METHOD]
    return "\n".join(out) + "\n"


METHOD = [
    "- One private `redis-server` per pass (free port, temp dir, `--save ''`, "
    "noeviction); `FLUSHALL` before every measurement; every producer and worker is a "
    "fresh process run with the system's own virtualenv.",
    "- Every system runs the same handler, which records its start and end time in "
    "memory; a background thread writes them to a file whose size tells the "
    "orchestrator how many jobs completed. Completion therefore means *the handler "
    "returned*; writing the outcome to Redis is inside throughput (it competes for the "
    "same CPU) but not inside the latency figures.",
    "- Payloads are `{i, t, pad}`, about 100 bytes as JSON; `t` is the producer's "
    "clock just before the enqueue call, so latency includes the enqueue round trip.",
    "- enqueue: one producer, one job at a time (or the batch API in chunks of 1000 "
    "where the system has one). Redis memory per job is the `used_memory` delta after "
    "the one-at-a-time run, divided by N.",
    "- drain: N jobs enqueued first (5 N for the ceiling, which drains N in a blink); "
    "K worker processes wait on a shared start "
    "signal; throughput is N ÷ (last handler end - first handler start). sleep-io is the "
    "same with a 10 ms `asyncio.sleep` (thread sleep for Dramatiq) in the handler.",
    "- latency: one worker process; one producer sends at a fixed rate (open loop, "
    "after 20 warm-up jobs) for the stated time; percentiles are over all jobs.",
    "- peak RSS is `VmHWM` of the worker process at the end of the run.",
]
