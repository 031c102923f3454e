"""The workloads: each measurement flushes Redis, runs fresh processes, returns metrics.

Throughput counts handler completions as the shared harness records them, from the
first handler start to the last handler end, so every system is timed by one rule.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import redis

from .children import ChildFailed, Workers, run_role
from .peers import System
from .stats import percentile


@dataclass(frozen=True)
class Sizes:
    """How big each workload is; `QUICK` only proves that the scripts run."""

    enqueue_n: int = 5_000
    batch_n: int = 20_000
    drain_n: int = 10_000
    sleep_n: int = 5_000
    sleep_ms: float = 10.0
    latency_rates: tuple[int, ...] = (500, 2000)
    latency_s: float = 10.0
    processes: tuple[int, ...] = (1, 2, 4)
    concurrency: int = 100
    repeats: int = 3


QUICK = Sizes(
    enqueue_n=300,
    batch_n=1_000,
    drain_n=1_000,
    sleep_n=500,
    latency_rates=(500,),
    latency_s=1.0,
    processes=(1, 2),
    repeats=1,
)


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str
    higher_is_better: bool
    fmt: str = "{:,.0f}"


def metrics_for(sizes: Sizes) -> dict[str, Metric]:
    """Every metric a full pass can produce, in report order."""
    table: dict[str, Metric] = {
        "enqueue_single": Metric("enqueue, one at a time", "jobs/s", True),
        "enqueue_batch": Metric("enqueue, batch API", "jobs/s", True),
    }
    for p in sizes.processes:
        table[f"drain_p{p}"] = Metric(
            f"drain no-op, {p} process{'es' if p > 1 else ''}", "jobs/s", True
        )
    table["sleep_io"] = Metric(
        f"sleep-io {sizes.sleep_ms:g} ms, c={sizes.concurrency}", "jobs/s", True
    )
    for rate in sizes.latency_rates:
        table[f"lat{rate}_rate"] = Metric(f"latency run @{rate}/s: achieved rate", "jobs/s", True)
        for edge, name in (("start", "start"), ("done", "completion")):
            for q in (50, 95, 99):
                table[f"lat{rate}_{edge}_p{q}"] = Metric(
                    f"@{rate}/s enqueue→{name} p{q}", "ms", False, "{:,.2f}"
                )
    table["rss_drain_mib"] = Metric("worker peak RSS, drain", "MiB", False, "{:,.1f}")
    table["rss_sleep_mib"] = Metric("worker peak RSS, sleep-io", "MiB", False, "{:,.1f}")
    table["redis_bytes_per_job"] = Metric("Redis memory per queued job", "B", False)
    return table


class Bench:
    """Runs measurements of one system against one private Redis."""

    def __init__(self, url: str, sizes: Sizes) -> None:
        self.url = url
        self.sizes = sizes
        self.client = redis.Redis.from_url(url)

    def close(self) -> None:
        self.client.close()

    def _flush(self) -> None:
        self.client.flushall()

    def _used_memory(self) -> int:
        return int(self.client.info("memory")["used_memory"])

    def _cfg(self, **values: Any) -> dict[str, Any]:
        return {"url": self.url, "concurrency": self.sizes.concurrency, **values}

    # -- workloads ---------------------------------------------------------------------

    def enqueue(self, system: System, mode: str) -> dict[str, float]:
        """N jobs from one producer; also Redis bytes per queued job (used_memory delta)."""
        n = self.sizes.enqueue_n if mode == "single" else self.sizes.batch_n
        self._flush()
        before = self._used_memory()
        result = run_role(system, "enqueue", self._cfg(n=n, mode=mode), timeout_s=60 + n / 50)
        out = {f"enqueue_{mode}": n / result["seconds"]}
        if mode == "single":
            out["redis_bytes_per_job"] = (self._used_memory() - before) / n
        return out

    def drain(self, system: System, processes: int, sleep_ms: float = 0.0) -> dict[str, float]:
        """N pre-enqueued jobs drained by `processes` workers; jobs/s first to last."""
        n = self.sizes.sleep_n if sleep_ms else self.sizes.drain_n * system.drain_scale
        self._flush()
        run_role(system, "fill", self._cfg(n=n), timeout_s=60 + n / 50)
        with (
            tempfile.TemporaryDirectory(prefix="streamq-bench-") as tmp,
            Workers(system, self._cfg(sleep_ms=sleep_ms), processes, Path(tmp)) as workers,
        ):
            workers.start()
            workers.wait_for(n, timeout_s=60 + n / 100)
            rss = max(workers.peak_rss_mib())
            rows = workers.records()
        if len(rows) != n:
            raise ChildFailed(f"{system.name}: {len(rows)} completions for {n} jobs")
        span = max(r[3] for r in rows) - min(r[2] for r in rows)
        if sleep_ms:
            return {"sleep_io": n / span, "rss_sleep_mib": rss}
        out = {f"drain_p{processes}": n / span}
        if processes == 1:
            out["rss_drain_mib"] = rss
        return out

    def latency(self, system: System, rate: int) -> dict[str, float]:
        """A steady producer at `rate` jobs/s for `latency_s`; one worker process."""
        n, warmup = int(rate * self.sizes.latency_s), 20
        self._flush()
        with (
            tempfile.TemporaryDirectory(prefix="streamq-bench-") as tmp,
            Workers(system, self._cfg(), 1, Path(tmp)) as workers,
        ):
            workers.start()
            produced = run_role(
                system,
                "rate",
                self._cfg(n=n, rate=rate, warmup=warmup),
                timeout_s=60 + 4 * self.sizes.latency_s,
            )
            workers.wait_for(n + warmup, timeout_s=30)
            rows = [r for r in workers.records() if r[0] >= 0]
        starts = [(r[2] - r[1]) * 1000 for r in rows]
        ends = [(r[3] - r[1]) * 1000 for r in rows]
        out = {f"lat{rate}_rate": float(produced["achieved_rate"])}
        for q in (50, 95, 99):
            out[f"lat{rate}_start_p{q}"] = percentile(starts, q)
            out[f"lat{rate}_done_p{q}"] = percentile(ends, q)
        return out


@dataclass(frozen=True)
class Step:
    """One planned measurement: a name for progress and errors, and what it runs."""

    name: str
    run: Callable[[Bench, System], dict[str, float]]
    needs_batch: bool = False


def plan(sizes: Sizes, full: bool) -> list[Step]:
    """The workloads of a pass: all of them, or the durability-sensitive subset."""
    steps = [
        Step("enqueue single", partial(Bench.enqueue, mode="single")),
        Step("enqueue batch", partial(Bench.enqueue, mode="batch"), needs_batch=True),
    ]
    procs = sizes.processes if full else sizes.processes[:1]
    steps += [Step(f"drain p{p}", partial(Bench.drain, processes=p)) for p in procs]
    if full:
        steps.append(Step("sleep-io", partial(Bench.drain, processes=1, sleep_ms=sizes.sleep_ms)))
        steps += [
            Step(f"latency {rate}/s", partial(Bench.latency, rate=rate))
            for rate in sizes.latency_rates
        ]
    return steps
