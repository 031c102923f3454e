"""`python -m benchmarks.worker_cpu`: the CPU of the per-job steps of a worker node, each
the way the executor did it before and the way it does it now.

Each row runs one step N times in a loop on a running event loop (anyio on asyncio, as a
node runs) and reports the process's CPU time per step (`time.process_time`), medians of
the repeats with min-max; the pairs are interleaved within each repeat so that drift of
the machine affects both alike. The steps:

- a handler's time limit: a cancel scope with its own deadline (a timer set and cancelled
  per job) against a plain cancel scope registered with `Deadlines` (one timer per tick,
  shared by the attempts that end in it);
- a histogram observation: prometheus_client's `Histogram` (a lock for the sum, another for
  the bucket) against `LoopHistogram` (plain counts).

End-to-end worker CPU per job is measured by `python -m benchmarks.run --only streamq`.

    python -m benchmarks.worker_cpu                 # 5 repeats of 50,000
    python -m benchmarks.worker_cpu --n 2000 --repeats 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from prometheus_client import CollectorRegistry, Histogram

from streamq.metrics import LoopHistogram
from streamq.worker.deadlines import Deadlines

from .children import REPO

BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
TIME_LIMIT_S = 30.0

Step = Callable[[int], Awaitable[None]]


async def _handler() -> None:
    """A no-op handler: a coroutine that returns at once."""


async def scope_with_deadline(n: int) -> None:
    clock = asyncio.get_running_loop().time
    for _ in range(n):
        with anyio.CancelScope(deadline=clock() + TIME_LIMIT_S):
            await _handler()


async def scope_with_shared_ticks(n: int) -> None:
    clock = asyncio.get_running_loop().time
    deadlines = Deadlines()
    for _ in range(n):
        with anyio.CancelScope() as scope:
            tick = deadlines.add(scope, clock() + TIME_LIMIT_S, TIME_LIMIT_S)
            try:
                await _handler()
            finally:
                deadlines.discard(scope, tick)


async def prometheus_histogram(n: int) -> None:
    child = Histogram("h", "h", ["queue", "task"], buckets=BUCKETS,
                      registry=CollectorRegistry()).labels("q", "t")
    for i in range(n):
        child.observe(i * 1e-6)


async def loop_histogram(n: int) -> None:
    child = LoopHistogram("h", "h", ["queue", "task"], buckets=BUCKETS,
                          registry=CollectorRegistry()).labels("q", "t")
    for i in range(n):
        child.observe(i * 1e-6)


PAIRS: dict[str, tuple[tuple[str, Step], tuple[str, Step]]] = {
    "time limit of one attempt": (
        ("cancel scope with its own deadline", scope_with_deadline),
        ("cancel scope + Deadlines", scope_with_shared_ticks),
    ),
    "one histogram observation": (
        ("prometheus_client Histogram", prometheus_histogram),
        ("LoopHistogram", loop_histogram),
    ),
}


async def _measure(step: Step, n: int) -> float:
    """Process CPU µs per step."""
    await step(min(n, 1000))  # warm caches and first-call paths
    started = time.process_time()
    await step(n)
    return (time.process_time() - started) / n * 1e6


def run(n: int, repeats: int) -> dict[str, dict[str, list[float]]]:
    samples: dict[str, dict[str, list[float]]] = {
        row: {name: [] for name, _ in pair} for row, pair in PAIRS.items()
    }

    async def one_repeat() -> None:
        for row, pair in PAIRS.items():
            for name, step in pair:
                samples[row][name].append(await _measure(step, n))

    for _ in range(repeats):
        anyio.run(one_repeat)
    return samples


def table(samples: dict[str, dict[str, list[float]]]) -> str:
    lines = ["| step | before | µs | now | µs | ratio |", "|---|---|---|---|---|---|"]
    for row, by_name in samples.items():
        (before, a), (now, b) = by_name.items()
        ma, mb = statistics.median(a), statistics.median(b)
        lines.append(
            f"| {row} | {before} | {ma:.2f} ({min(a):.2f}-{max(a):.2f}) | {now} | "
            f"{mb:.2f} ({min(b):.2f}-{max(b):.2f}) | {mb / ma:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker_cpu",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000, help="steps per measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    samples = run(args.n, args.repeats)
    print(table(samples))
    results: dict[str, Any] = {
        row: {name: {"median_us": statistics.median(v), "min_us": min(v), "max_us": max(v),
                     "samples_us": v} for name, v in by_name.items()}
        for row, by_name in samples.items()
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"worker-cpu-{started:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps({
        "benchmark": "worker_cpu", "started": started.isoformat(), "n": args.n,
        "repeats": args.repeats, "machine": {"cpus": os.cpu_count()}, "results": results,
    }, indent=2))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
