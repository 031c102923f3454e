"""The workloads: each measurement flushes Redis, runs fresh processes, returns metrics.

Throughput counts handler completions as the shared harness records them, from the
first handler start to the last handler end, so every system is timed by one rule.
Costs per job come from counters rather than clocks: Redis CPU and commands from `INFO`
deltas (`redis_meter`), worker CPU from the workers' /proc/<pid>/stat, so that they hold
on a busy machine where wall-clock figures do not.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import redis

from .children import ChildFailed, Workers, run_role
from .peers import System
from .redis_meter import RedisMeter
from .stats import max_overlap, percentile


@dataclass(frozen=True)
class Sizes:
    """How big each workload is; `QUICK` only proves that the scripts run."""

    enqueue_n: int = 5_000
    batch_n: int = 20_000
    drain_n: int = 10_000
    sleep_n: int = 5_000
    sleep_ms: float = 10.0
    latency_rates: tuple[int, ...] = (100, 500, 2000)
    latency_s: float = 10.0
    processes: tuple[int, ...] = (1, 2, 4)
    concurrency: int = 100
    footprint: tuple[int, ...] = (100, 1000)
    """Concurrency of the memory runs: each holds that many sleeping jobs at once."""
    footprint_sleep_ms: float = 1000.0
    idle_s: float = 1.0
    """How long a started worker sits with nothing to do before its idle RSS is read."""
    redis_idle_s: float = 2.0
    """How long a fresh server is watched doing nothing, for its idle CPU rate."""
    repeats: int = 3


QUICK = Sizes(
    enqueue_n=300,
    batch_n=1_000,
    drain_n=1_000,
    sleep_n=500,
    latency_s=0.5,
    processes=(1, 2),
    footprint_sleep_ms=200.0,
    idle_s=0.3,
    redis_idle_s=0.5,
    repeats=1,
)

GROUPS = {
    "throughput": "Throughput",
    "latency": "Latency",
    "cost": "Cost per job",
    "memory": "Memory",
}


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str
    higher_is_better: bool
    fmt: str = "{:,.0f}"
    group: str = "throughput"


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
        table[f"lat{rate}_rate"] = Metric(
            f"latency run @{rate}/s: achieved rate", "jobs/s", True, group="latency"
        )
        for edge, name in (("start", "start"), ("done", "completion")):
            for q in (50, 95, 99):
                table[f"lat{rate}_{edge}_p{q}"] = Metric(
                    f"@{rate}/s enqueue→{name} p{q}", "ms", False, "{:,.2f}", "latency"
                )
    us, calls = "{:,.1f}", "{:,.2f}"
    table |= {
        "redis_us_enqueue_single": Metric(
            "Redis CPU, enqueue one call per job", "µs/job", False, us, "cost"
        ),
        "redis_us_enqueue_batch": Metric(
            "Redis CPU, enqueue through the batch API", "µs/job", False, us, "cost"
        ),
        "redis_us_process": Metric(
            "Redis CPU, processing (drain, 1 process)", "µs/job", False, us, "cost"
        ),
        "redis_us_lifecycle": Metric(
            "Redis CPU, enqueue (batch if any) + processing", "µs/job", False, us, "cost"
        ),
        "redis_calls_enqueue_single": Metric(
            "Redis commands, enqueue one call per job", "cmd/job", False, calls, "cost"
        ),
        "redis_calls_enqueue_batch": Metric(
            "Redis commands, enqueue through the batch API", "cmd/job", False, calls, "cost"
        ),
        "redis_calls_process": Metric(
            "Redis commands, processing", "cmd/job", False, calls, "cost"
        ),
        "worker_us_process": Metric(
            "worker CPU, steady drain (1 process)", "µs/job", False, us, "cost"
        ),
        "redis_bytes_per_job": Metric(
            "Redis memory per queued job (100-byte payload)", "B", False, group="cost"
        ),
    }
    for rate in sizes.latency_rates:
        table[f"lat{rate}_redis_us"] = Metric(
            f"Redis CPU @{rate}/s, enqueue + processing", "µs/job", False, us, "cost"
        )
        table[f"lat{rate}_worker_us"] = Metric(f"worker CPU @{rate}/s", "µs/job", False, us, "cost")
    mib = "{:,.1f}"
    table["rss_idle_mib"] = Metric("worker RSS, idle", "MiB", False, mib, "memory")
    for c in sizes.footprint:
        table[f"rss_c{c}_mib"] = Metric(
            f"worker peak RSS, {c:,} jobs in flight", "MiB", False, mib, "memory"
        )
        table[f"c{c}_in_flight"] = Metric(
            f"jobs in flight at once, c={c:,} (check)", "jobs", True, group="memory"
        )
    table["rss_drain_mib"] = Metric("worker peak RSS, no-op drain", "MiB", False, mib, "memory")
    return table


@dataclass
class Outcome:
    """What one measurement produced: metric values, and per-phase command profiles
    (command -> (calls per job, usec per job)) from `INFO commandstats`."""

    values: dict[str, float]
    profiles: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)


class Bench:
    """Runs measurements of one system against one private Redis."""

    def __init__(self, url: str, sizes: Sizes) -> None:
        self.url = url
        self.sizes = sizes
        self.client = redis.Redis.from_url(url)
        self.meter = RedisMeter(self.client)

    def close(self) -> None:
        self.client.close()

    def _flush(self) -> None:
        self.client.flushall()

    def _used_memory(self) -> int:
        return int(self.client.info("memory")["used_memory"])

    def _cfg(self, **values: Any) -> dict[str, Any]:
        return {"url": self.url, "concurrency": self.sizes.concurrency, **values}

    # -- workloads ---------------------------------------------------------------------

    def enqueue(self, system: System, mode: str) -> Outcome:
        """N jobs from one producer: jobs/s, Redis CPU and commands per job, and (one at a
        time) Redis bytes per queued job from the used_memory delta."""
        n = self.sizes.enqueue_n if mode == "single" else self.sizes.batch_n
        self._flush()
        memory = self._used_memory()
        before = self.meter.snapshot()
        result = run_role(system, "enqueue", self._cfg(n=n, mode=mode), timeout_s=60 + n / 50)
        cost = self.meter.cost(before, self.meter.snapshot(), n)
        out = {
            f"enqueue_{mode}": n / result["seconds"],
            f"redis_us_enqueue_{mode}": cost.cpu_us,
            f"redis_calls_enqueue_{mode}": cost.calls,
        }
        if mode == "single":
            out["redis_bytes_per_job"] = (self._used_memory() - memory) / n
        return Outcome(out, {f"enqueue_{mode}": cost.commands})

    def drain(self, system: System, processes: int, sleep_ms: float = 0.0) -> Outcome:
        """N pre-enqueued jobs drained by `processes` workers; jobs/s first to last.

        With one process and no-op jobs, also what processing costs per job: Redis CPU
        and commands from the start signal until Redis goes quiet after the last job
        (so the enqueue is not in it), and the worker's CPU between 10 % and 95 % of the
        jobs (steady state: no start-up, no tail)."""
        n = self.sizes.sleep_n if sleep_ms else self.sizes.drain_n * system.drain_scale
        timeout_s = 60 + n / 100
        steady = processes == 1 and not sleep_ms
        self._flush()
        run_role(system, "fill", self._cfg(n=n), timeout_s=60 + n / 50)
        with (
            tempfile.TemporaryDirectory(prefix="streamq-bench-") as tmp,
            Workers(system, self._cfg(sleep_ms=sleep_ms), processes, Path(tmp)) as workers,
        ):
            workers.ready()
            before = self.meter.snapshot()
            workers.go()
            marks = (n // 10, n * 95 // 100) if steady else ()
            window = [workers.wait_until(k, timeout_s) for k in marks]
            workers.wait_for(n, timeout_s)
            after = self.meter.settle() if steady else before
            rss = max(workers.peak_rss_mib())
            rows = workers.records()
        if len(rows) != n:
            raise ChildFailed(f"{system.name}: {len(rows)} completions for {n} jobs")
        span = max(r[3] for r in rows) - min(r[2] for r in rows)
        if sleep_ms:
            return Outcome({"sleep_io": n / span})
        out = {f"drain_p{processes}": n / span}
        if not steady:
            return Outcome(out)
        (done0, cpu0), (done1, cpu1) = window
        cost = self.meter.cost(before, after, n)
        out |= {
            "rss_drain_mib": rss,
            "redis_us_process": cost.cpu_us,
            "redis_calls_process": cost.calls,
        }
        if done1 > done0:
            out["worker_us_process"] = 1e6 * (cpu1 - cpu0) / (done1 - done0)
        return Outcome(out, {"process": cost.commands})

    def latency(self, system: System, rate: int) -> Outcome:
        """A steady producer at `rate` jobs/s for `latency_s`; one worker process.

        Besides the percentiles, what a job costs at that rate (one enqueue call per job,
        little batching): Redis CPU from after the warm-up jobs until Redis goes quiet,
        worker CPU over the same jobs."""
        n, warmup = int(rate * self.sizes.latency_s), 20
        timeout_s = 60 + 4 * self.sizes.latency_s
        self._flush()
        with (
            tempfile.TemporaryDirectory(prefix="streamq-bench-") as tmp,
            Workers(system, self._cfg(), 1, Path(tmp)) as workers,
            ThreadPoolExecutor(1) as pool,
        ):
            workers.start()
            cfg = self._cfg(n=n, rate=rate, warmup=warmup)
            producer = pool.submit(run_role, system, "rate", cfg, timeout_s)
            check = partial(_raise_if_failed, producer)
            done0, cpu0 = workers.wait_until(warmup, timeout_s, check)
            before = self.meter.snapshot()
            done1, cpu1 = workers.wait_until(n + warmup, timeout_s, check)
            after = self.meter.settle()
            produced = producer.result()
            workers.wait_for(n + warmup, timeout_s=30)
            rows = [r for r in workers.records() if r[0] >= 0]
        starts = [(r[2] - r[1]) * 1000 for r in rows]
        ends = [(r[3] - r[1]) * 1000 for r in rows]
        out = {
            f"lat{rate}_rate": float(produced["achieved_rate"]),
            f"lat{rate}_redis_us": self.meter.cost(before, after, n).cpu_us,
        }
        if done1 > done0:
            out[f"lat{rate}_worker_us"] = 1e6 * (cpu1 - cpu0) / (done1 - done0)
        for q in (50, 95, 99):
            out[f"lat{rate}_start_p{q}"] = percentile(starts, q)
            out[f"lat{rate}_done_p{q}"] = percentile(ends, q)
        return Outcome(out)

    def footprint(self, system: System, concurrency: int) -> Outcome:
        """Worker memory: RSS of a started worker with nothing to do, then peak RSS while
        it holds `concurrency` sleeping jobs at once (2 x concurrency are enqueued while
        it runs; the jobs-in-flight figure checks that the pool really filled)."""
        n = 2 * concurrency
        cfg = self._cfg(concurrency=concurrency, sleep_ms=self.sizes.footprint_sleep_ms)
        self._flush()
        with (
            tempfile.TemporaryDirectory(prefix="streamq-bench-") as tmp,
            Workers(system, cfg, 1, Path(tmp)) as workers,
        ):
            workers.start()
            time.sleep(self.sizes.idle_s)
            idle = workers.rss_mib()[0]
            run_role(system, "fill", self._cfg(n=n), timeout_s=60 + n / 50)
            workers.wait_for(n, timeout_s=60 + n / 50)
            peak = workers.peak_rss_mib()[0]
            rows = workers.records()
        out = {
            f"rss_c{concurrency}_mib": peak,
            f"c{concurrency}_in_flight": float(max_overlap([(r[2], r[3]) for r in rows])),
        }
        if concurrency == self.sizes.footprint[0]:
            out["rss_idle_mib"] = idle
        return Outcome(out)


def _raise_if_failed(future: Future[dict[str, Any]]) -> None:
    if future.done():
        future.result()


@dataclass(frozen=True)
class Step:
    """One planned measurement: a name for progress and errors, and what it runs."""

    name: str
    run: Callable[[Bench, System], Outcome]
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
        steps += [
            Step(f"memory c={c}", partial(Bench.footprint, concurrency=c)) for c in sizes.footprint
        ]
    return steps
