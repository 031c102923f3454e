"""Results as one JSON document and as Markdown tables, built from the collected samples.

Ratios are streamq's median over the other system's median, from the same run, so that
machine noise between runs does not enter them.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .stats import summarize
from .workloads import GROUPS, Metric, Outcome

PERSISTENCE_TITLES = {"none": "no persistence", "aof-everysec": "AOF appendfsync everysec"}
CEILING = "ceiling"
PHASES = {
    "enqueue_single": "enqueue, one call per job",
    "enqueue_batch": "enqueue, batch API",
    "process": "processing",
}


@dataclass(frozen=True)
class Target:
    """A bound streamq aims at on this 2-core machine, measured (never asserted).

    `versus` makes it relative to the same run: "ceiling" (share of the bare loop),
    "peers" (the best peer), or another streamq metric; `bound` is then a ratio."""

    metric: str
    kind: str
    """"max" or "min"."""
    bound: float
    versus: str = ""

    def describe(self) -> str:
        sign = "≤" if self.kind == "max" else "≥"
        if self.versus == CEILING:
            return f"{self.metric} ÷ bare loop {sign} {self.bound:.0%}"
        if self.versus == "peers":
            return f"{self.metric} ÷ best peer {sign} {self.bound:g}"
        if self.versus:
            return f"{self.metric} ÷ {self.versus} {sign} {self.bound:g}"
        return f"{self.metric} {sign} {self.bound:g}"


TARGETS: list[Target] = [
    Target("redis_us_lifecycle", "max", 15.0),
    Target("redis_us_enqueue_single", "max", 20.0),
    Target("redis_bytes_per_job", "max", 300.0),
    Target("worker_us_process", "max", 20.0),
    Target("drain_p1", "min", 0.30, versus=CEILING),
    Target("drain_p2", "min", 1.0, versus="drain_p1"),
    Target("enqueue_single", "min", 1.0, versus="peers"),
    Target("lat500_start_p50", "max", 0.4),
    Target("lat500_start_p99", "max", 1.5),
    Target("lat2000_start_p99", "max", 5.0),
    Target("rss_c100_mib", "max", 30.0),
]


@dataclass
class PassResult:
    """Everything measured against one Redis server."""

    persistence: str
    redis_version: str = ""
    idle_cpu_us_per_s: float = 0.0
    """CPU the idle server burns per second, taken out of every Redis CPU figure."""
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    profiles: dict[str, dict[str, list[dict[str, tuple[float, float]]]]] = field(
        default_factory=dict
    )
    """system -> phase -> one {command: (calls, usec) per job} per repeat."""
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, system: str, outcome: Outcome) -> None:
        into = self.samples.setdefault(system, {})
        for metric, value in outcome.values.items():
            into.setdefault(metric, []).append(value)
        phases = self.profiles.setdefault(system, {})
        for phase, commands in outcome.profiles.items():
            phases.setdefault(phase, []).append(commands)

    def derive(self) -> None:
        """Redis CPU for a whole job, enqueue (batch where the system has one) plus
        processing: summed repeat by repeat, or medians summed if a repeat failed."""
        for by_metric in self.samples.values():
            enqueue = by_metric.get("redis_us_enqueue_batch") or by_metric.get(
                "redis_us_enqueue_single"
            )
            process = by_metric.get("redis_us_process")
            if not enqueue or not process:
                continue
            if len(enqueue) == len(process):
                total = [a + b for a, b in zip(enqueue, process, strict=True)]
            else:
                total = [statistics.median(enqueue) + statistics.median(process)]
            by_metric["redis_us_lifecycle"] = total

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

    def over_ceiling(
        self, systems: list[str], metrics: dict[str, Metric]
    ) -> dict[str, dict[str, float]]:
        """system / bare loop, per cost metric: how many times the least a Redis Streams
        queue can spend on the same job."""
        out: dict[str, dict[str, float]] = {}
        for metric, m in metrics.items():
            base = self.median(CEILING, metric)
            if m.group != "cost" or m.unit == "cmd/job" or not base:
                continue  # a command count is no cost: one XACK may carry 100 ids
            for system in systems:
                value = self.median(system, metric)
                if system != CEILING and value is not None:
                    out.setdefault(metric, {})[system] = value / base
        return out

    def profile(self, system: str, phase: str) -> dict[str, tuple[float, float]]:
        """Median calls and usec per job of each command over the repeats (a repeat
        without the command counts as zero)."""
        runs = self.profiles.get(system, {}).get(phase, [])
        names = {name for run in runs for name in run}
        table = {
            name: (
                statistics.median(run.get(name, (0.0, 0.0))[0] for run in runs),
                statistics.median(run.get(name, (0.0, 0.0))[1] for run in runs),
            )
            for name in names
        }
        return dict(sorted(table.items(), key=lambda kv: (-kv[1][0], kv[0])))

    def target_value(self, target: Target) -> float | None:
        """streamq's median for the target, or its ratio to the reference it names."""
        ours = self.median("streamq", target.metric)
        if ours is None or not target.versus:
            return ours
        if target.versus == CEILING:
            reference = self.median(CEILING, target.metric)
        elif target.versus == "peers":
            peers = [
                v
                for s in self.samples
                if s not in ("streamq", CEILING)
                and (v := self.median(s, target.metric)) is not None
            ]
            best = max if target.kind == "min" else min
            reference = best(peers) if peers else None
        else:
            reference = self.median("streamq", target.versus)
        return ours / reference if reference else None


def to_json(
    meta: dict[str, Any],
    systems: dict[str, dict[str, Any]],
    passes: list[PassResult],
    metrics: dict[str, Metric],
) -> dict[str, Any]:
    order = list(systems)
    return {
        "schema": 2,
        **meta,
        "metrics": {
            k: {
                "label": m.label,
                "unit": m.unit,
                "higher_is_better": m.higher_is_better,
                "group": m.group,
            }
            for k, m in metrics.items()
        },
        "systems": systems,
        "passes": [
            {
                "persistence": p.persistence,
                "redis_version": p.redis_version,
                "redis_idle_cpu_us_per_s": p.idle_cpu_us_per_s,
                "results": {
                    system: {
                        metric: {"samples": values, **_summary_dict(values)}
                        for metric, values in by_metric.items()
                    }
                    for system, by_metric in p.samples.items()
                },
                "ratios_streamq_over": p.ratios(order, metrics),
                "ratios_over_ceiling": p.over_ceiling(order, metrics),
                "targets": [{**_target_dict(t), "streamq": p.target_value(t)} for t in TARGETS],
                "redis_commands_per_job": {
                    system: {
                        phase: {
                            name: {"calls": calls, "usec": usec}
                            for name, (calls, usec) in p.profile(system, phase).items()
                        }
                        for phase in phases
                    }
                    for system, phases in p.profiles.items()
                },
                "errors": p.errors,
                "skipped": p.skipped,
            }
            for p in passes
        ],
    }


def _target_dict(target: Target) -> dict[str, Any]:
    return {
        "metric": target.metric,
        "kind": target.kind,
        "bound": target.bound,
        "versus": target.versus or None,
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


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}x"


def pass_tables(p: PassResult, systems: list[str], metrics: dict[str, Metric]) -> list[str]:
    """One table per group of metrics; costs also as multiples of the bare loop; then
    streamq over every other system."""
    present = [s for s in systems if s in p.samples]
    wanted = [k for k in metrics if any(k in p.samples[s] for s in present)]
    lines: list[str] = []
    for group, title in GROUPS.items():
        keys = [k for k in wanted if metrics[k].group == group]
        if not keys:
            continue
        rows = [
            [metrics[k].label, metrics[k].unit, *(_cell(p, s, k, metrics[k]) for s in present)]
            for k in keys
        ]
        lines += [f"### {title}", "", *_table(["metric", "unit", *present], rows), ""]
        if group == "cost":
            lines += _ceiling_table(p, present, {k: metrics[k] for k in keys})
    ratios = p.ratios(present, metrics)
    others = [s for s in present if s != "streamq"]
    if ratios and others:
        lines += [
            "### streamq ÷ other",
            "",
            "Same run, medians; > 1 is better for throughput, < 1 is better for latency, "
            "cost and memory.",
            "",
        ]
        ratio_rows = [
            [metrics[k].label, *(_ratio(ratios[k].get(o)) for o in others)]
            for k in wanted
            if k in ratios
        ]
        lines += [*_table(["metric", *others], ratio_rows), ""]
    return lines


def _ceiling_table(p: PassResult, present: list[str], metrics: dict[str, Metric]) -> list[str]:
    over = p.over_ceiling(present, metrics)
    shown = [s for s in present if s != CEILING]
    if not over or not shown:
        return []
    rows = [
        [metrics[k].label, *(_ratio(over[k].get(s)) for s in shown)] for k in metrics if k in over
    ]
    return [
        "Each system's cost as a multiple of the bare Streams loop's (same run, medians):",
        "",
        *_table(["metric", *shown], rows),
        "",
    ]


def targets_table(p: PassResult) -> list[str]:
    """streamq against its targets on this machine (measured, not asserted)."""
    rows = []
    for target in TARGETS:
        value = p.target_value(target)
        if value is None:
            continue
        ok = value <= target.bound if target.kind == "max" else value >= target.bound
        if target.versus == CEILING:
            shown = f"{value:.0%}"
        elif target.versus:
            shown = f"{value:.2f}x"
        else:
            shown = f"{value:,.2f}"
        gap = value / target.bound if target.bound else math.inf
        verdict = "met" if ok else f"missed ({gap:.2f}x the bound)"
        rows.append([target.describe(), shown, verdict])
    return _table(["streamq target", "median", ""], rows) if rows else []


def profile_table(p: PassResult, system: str) -> list[str]:
    """Per-job Redis commands of one system in each phase, from `INFO commandstats`."""
    phases = [ph for ph in PHASES if p.profiles.get(system, {}).get(ph)]
    if not phases:
        return []
    tables = {ph: p.profile(system, ph) for ph in phases}
    names = sorted(
        {n for t in tables.values() for n in t},
        key=lambda n: (-sum(t.get(n, (0.0, 0.0))[0] for t in tables.values()), n),
    )
    header = ["command"]
    for ph in phases:
        header += [f"{PHASES[ph]}: calls", "µs"]
    rows = []
    for name in names:
        row = [f"`{name}`"]
        for ph in phases:
            calls, usec = tables[ph].get(name, (0.0, 0.0))
            row += [f"{calls:.2f}" if calls else "", f"{usec:.1f}" if calls else ""]
        rows.append(row)
    total = ["**all**"]
    for ph in phases:
        total += [f"{sum(c for c, _ in tables[ph].values()):.2f}", ""]
    rows.append(total)
    return _table(header, rows)


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
        f"Load average at start / end: {document['machine']['load_average_at_start']} / "
        f"{document['machine']['load_average_at_end']}. Wall-clock figures (jobs/s, "
        "latency) move with other load on the machine; CPU per job and bytes per job "
        "barely do.",
        "",
    ]
    for p in passes:
        out += [f"## Redis with {PERSISTENCE_TITLES.get(p.persistence, p.persistence)}", ""]
        out += [
            f"The idle server used {p.idle_cpu_us_per_s:,.0f} µs of CPU per second; that "
            "share is taken out of every Redis CPU figure.",
            "",
        ]
        out += pass_tables(p, order, metrics)
        targets = targets_table(p)
        if targets:
            out += ["### streamq against its targets", "", *targets, ""]
        profile = profile_table(p, "streamq")
        if profile:
            out += [
                "### Where streamq's Redis time goes",
                "",
                "Commands per job and their µs per job (`INFO commandstats` deltas, medians; "
                "commands run by scripts are counted, and a script's µs include theirs). "
                "Processing includes the workers' start-up and idle reads, spread over the "
                "jobs. Every system's table is in the JSON file.",
                "",
                *profile,
                "",
            ]
        problems = [
            f"- {s}, {step}: {why}"
            for missing in (p.errors, p.skipped)
            for s, by in missing.items()
            for step, why in by.items()
        ]
        if problems:
            out += ["Not measured:", "", *problems, ""]
    out += ["## Systems", ""]
    for name, info in systems.items():
        if not info.get("available"):
            out.append(f"- **{name}**: not run: {info.get('reason')}")
            continue
        versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
        out.append(f"- **{name}** ({versions}; Python {info.get('python')})")
        out += [f"  - {k}: {v}" for k, v in info.get("config", {}).items()]
    out += ["", "## Method", "", *method(document["sizes"])]
    return "\n".join(out) + "\n"


def method(sizes: dict[str, Any]) -> list[str]:
    """How every figure was taken, with this run's sizes."""
    return [
        "- One private `redis-server` per pass (free port, temp dir, `--save ''`, "
        "noeviction); `FLUSHALL` before every measurement; every producer and worker is a "
        "fresh process run with the system's own virtualenv.",
        "- Every system runs the same handler, which records its start and end time in "
        "memory; a background thread writes them to a file whose size tells the "
        "orchestrator how many jobs completed. Completion therefore means *the handler "
        "returned*; writing the outcome to Redis is inside throughput (it competes for the "
        "same CPU) but not inside the latency figures.",
        "- Payloads are `{i, t, pad}`, exactly 100 bytes as compact JSON (each system "
        "serialises them its own way); `t` is the producer's clock just before the enqueue "
        "call, so latency includes the enqueue round trip.",
        "- enqueue: one producer, one job at a time (or the batch API in chunks of 1000 "
        "where the system has one). Redis memory per job is the `used_memory` delta after "
        "the one-at-a-time run, divided by N.",
        "- drain: N jobs enqueued first (5 N for the ceiling, which drains N in a blink); "
        "K worker processes wait on a shared start "
        "signal; throughput is N ÷ (last handler end - first handler start). sleep-io is the "
        "same with a 10 ms `asyncio.sleep` (thread sleep for Dramatiq) in the handler.",
        "- latency: one worker process; one producer sends at a fixed rate (open loop, "
        f"after 20 warm-up jobs) for {sizes['latency_s']:g} s; percentiles are over all jobs.",
        "- Redis CPU per job: `used_cpu_user + used_cpu_sys` of redis-server (`INFO cpu`) "
        "before and after, minus what the idle server burns over the same time, divided by "
        "the jobs. Enqueue: around the producer run. Processing: from the workers' start "
        "signal on a pre-filled queue until Redis is quiet again after the last job (a 50 ms "
        "window under 1 % of a core), so outcome writes are in and the enqueue is not. At a "
        "rate: from the end of the warm-up until quiet after the last job. Commands per job "
        "come from `INFO commandstats` over the same windows.",
        "- worker CPU per job: utime + stime of the worker process (all threads) from "
        "/proc/<pid>/stat, read when 10 % and 95 % of the jobs had completed (steady state, "
        "no interpreter start-up); at a rate, over the measured jobs. It includes the "
        "harness's recorder thread, the same for every system. The kernel counts it in 10 ms "
        "ticks, so windows are kept at hundreds of ms of CPU.",
        "- memory: one worker with concurrency C and handlers sleeping "
        f"{sizes['footprint_sleep_ms'] / 1000:g} s; its RSS (`VmRSS`) is read after it has "
        f"idled {sizes['idle_s']:g} s with an empty queue (the C = {sizes['footprint'][0]} "
        "run), then "
        "2 C jobs are enqueued and its peak RSS (`VmHWM`) is read once all are done; "
        "*jobs in flight* is the most handlers that were running at one instant. Dramatiq "
        "gets C threads here. Peak RSS of the no-op drain is `VmHWM` after it.",
    ]
