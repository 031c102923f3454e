"""`python -m benchmarks.cluster_shards`: one queue on a local Redis Cluster in 1, 2 and 3
shards: throughput, and Redis CPU per job on each primary while the queue drains.

A six-node cluster (three primaries, three replicas, AOF everysec) is started for the run.
For each shard count, every repeat: the queue `default` is paused, N jobs are enqueued
(Redis CPU per job of the enqueue, per primary), worker processes start and register,
then the queue is resumed and drained (a no-op handler). Around the drain, each primary's
`INFO cpu` (user + sys) and each worker process's CPU are read; the throughput is jobs
over the drain's wall time. The three shards of `default` hash to the three primaries.

This machine has two cores shared by six redis-servers, the workers and the producer, so
the measured throughput is bounded by the machine, not by Redis. What a cluster whose
primaries each have a core would reach is projected from the measured Redis CPU per job:
a primary saturates at 1 s of CPU per second, so a queue whose busiest primary spends
c µs per job (its enqueues plus its drain) tops out near 1e6 / c jobs/s on Redis's side,
with workers and producers scaled to match on machines of their own.
The table says which figures are measured and which projected.

    python -m benchmarks.cluster_shards                   # 6,000 jobs, 3 repeats
    python -m benchmarks.cluster_shards --jobs 1500 --repeats 1 --shards 1 --shards 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from streamq import App, JobRequest, Settings
from streamq.keys import QueueKeys
from streamq.shards import shard_name
from tests.support.observe import cpu_seconds
from tests.support.topology import LocalCluster

from .stats import summarize

REPO = Path(__file__).resolve().parent.parent
QUEUE = "default"
TASKS = "benchmarks.shard_tasks:app"
BATCH = 200


def _cpu(port: int) -> float:
    with redis.Redis(port=port) as r:
        info: dict[str, Any] = r.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _primary_cpu(ports: list[int]) -> dict[int, float]:
    return {port: _cpu(port) for port in ports}


def _start_workers(
    url: str, shards: int, count: int, concurrency: int, log: Any
) -> list[Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMQ_")}
    env.update(PYTHONPATH=str(REPO), STREAMQ_REDIS_URL=url, STREAMQ_SHARDS=str(shards),
               STREAMQ_LOG_LEVEL="warning")
    return [
        subprocess.Popen(
            [sys.executable, "-m", "streamq", "worker", TASKS, "-c", str(concurrency)],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log,
            start_new_session=True,
        )
        for _ in range(count)
    ]


def _exited(procs: list[Any]) -> bool:
    return any(p.poll() is not None for p in procs)


def _stop(procs: list[Any]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


async def _fill(app: App, jobs: int) -> None:
    for i in range(0, jobs, BATCH):
        await app.enqueue_many(JobRequest("bench.noop", {"n": n})
                               for n in range(i, min(jobs, i + BATCH)))


async def _wait(app: App, done: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        [stats] = await app.queue_stats([QUEUE])
        if done(stats):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the queue did not get there in time")


async def one_repeat(cluster: LocalCluster, shards: int, jobs: int, workers: int,
                     concurrency: int, log: Any) -> dict[str, Any]:
    """Fill, then drain, one queue of `shards` shards; CPU per primary around each."""
    cluster.flushall()
    primaries = sorted(s.port for s in cluster.primaries())
    homes = [cluster.primary_of(QueueKeys("streamq", shard_name(QUEUE, k)).base).port
             for k in range(shards)]
    app = App(Settings(redis_url=cluster.url, shards=shards))
    procs: list[Any] = []
    try:
        await app.pause(QUEUE)
        before = _primary_cpu(primaries)
        await _fill(app, jobs)
        after_fill = _primary_cpu(primaries)
        procs = _start_workers(cluster.url, shards, workers, concurrency, log)
        await _wait(app, lambda s: s.workers >= workers or _exited(procs), 60)
        if _exited(procs):
            raise RuntimeError("a worker process exited; see --keep-log")
        await asyncio.sleep(0.5)  # every fetcher settled in its blocking read
        start_cpu = _primary_cpu(primaries)
        worker_cpu = sum(cpu_seconds(p.pid) for p in procs)
        began = time.monotonic()
        await app.resume(QUEUE)
        await _wait(app, lambda s: s.length == 0 and s.scheduled == 0, 300)
        wall = time.monotonic() - began
        await asyncio.sleep(0.2)  # outcomes still being flushed belong to the drain
        end_cpu = _primary_cpu(primaries)
        worker_cpu = sum(cpu_seconds(p.pid) for p in procs) - worker_cpu
    finally:
        _stop(procs)
        await app.close()
    return {
        "throughput": jobs / wall,
        "drain_s": wall,
        "enqueue_cpu_us": {p: (after_fill[p] - before[p]) * 1e6 / jobs for p in primaries},
        "drain_cpu_us": {p: (end_cpu[p] - start_cpu[p]) * 1e6 / jobs for p in primaries},
        "worker_cpu_us": worker_cpu * 1e6 / jobs,
        "homes": homes,
    }


def _median(values: list[float]) -> float:
    summary = summarize(values)
    return summary.median if summary else float("nan")


def summarize_runs(shards: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    primaries = sorted(runs[0]["drain_cpu_us"])
    per_primary = {p: _median([r["drain_cpu_us"][p] for r in runs]) for p in primaries}
    enqueue = {p: _median([r["enqueue_cpu_us"][p] for r in runs]) for p in primaries}
    homes = sorted(set(runs[0]["homes"]))
    loaded = [per_primary[p] for p in homes]
    mean = sum(loaded) / len(loaded)
    # steady state: a primary both takes the enqueues and serves the drain of its shards
    busiest = max(per_primary[p] + enqueue[p] for p in homes)
    total = sum(per_primary.values()) + sum(enqueue.values())
    return {
        "shards": shards,
        "primaries_used": len(set(runs[0]["homes"])),
        "throughput_jobs_s": {"median": _median([r["throughput"] for r in runs]),
                              "min": min(r["throughput"] for r in runs),
                              "max": max(r["throughput"] for r in runs), "n": len(runs)},
        "drain_cpu_us_per_job_by_primary": {str(p): round(v, 2) for p, v in per_primary.items()},
        "enqueue_cpu_us_per_job_by_primary": {str(p): round(v, 2) for p, v in enqueue.items()},
        "redis_cpu_us_per_job_total": round(total, 2),
        "worker_cpu_us_per_job": round(_median([r["worker_cpu_us"] for r in runs]), 2),
        "shard_load_spread_pct": round(100 * (max(loaded) - min(loaded)) / mean, 1),
        "shard_load_max_dev_pct": round(100 * max(abs(v - mean) for v in loaded) / mean, 1),
        "busiest_primary_cpu_us_per_job_enqueue_and_drain": round(busiest, 2),
        "projected_redis_bound_jobs_s": round(1e6 / busiest),
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = ("shards | primaries | throughput jobs/s (measured, median min-max) | Redis CPU "
            "µs/job per primary, drain (measured) | load max dev | Redis CPU µs/job all "
            "primaries, enqueue+drain (measured) | worker CPU µs/job (measured) | Redis-bound "
            "ceiling jobs/s, a core per primary (projected)")
    lines = [head, "|".join(["---"] * 8)]
    for r in rows:
        t = r["throughput_jobs_s"]
        cpu = " / ".join(f"{v:.0f}" for v in r["drain_cpu_us_per_job_by_primary"].values())
        lines.append(
            f"{r['shards']} | {r['primaries_used']} | {t['median']:.0f} ({t['min']:.0f}-"
            f"{t['max']:.0f}) | {cpu} | ±{r['shard_load_max_dev_pct']}% | "
            f"{r['redis_cpu_us_per_job_total']:.0f} | {r['worker_cpu_us_per_job']:.0f} | "
            f"{r['projected_redis_bound_jobs_s']:,}"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="streamq-cluster-bench-") as root:
        cluster = LocalCluster(Path(root)).start()
        log = (Path(root) / "workers.log").open("w")
        try:
            results: dict[int, list[dict[str, Any]]] = {n: [] for n in args.shards}
            for _ in range(args.repeats):  # interleaved, so drift hits every count alike
                for n in args.shards:
                    results[n].append(await one_repeat(cluster, n, args.jobs, args.workers,
                                                       args.concurrency, log))
        finally:
            log.close()
            if args.keep_log:
                shutil.copyfile(Path(root) / "workers.log", args.keep_log)
            cluster.stop()
    rows = [summarize_runs(n, runs) for n, runs in results.items()]
    return {
        "benchmark": "cluster_shards",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]},
        "setup": {"jobs": args.jobs, "repeats": args.repeats, "workers": args.workers,
                  "concurrency": args.concurrency, "cluster": "3 primaries + 3 replicas, "
                  "AOF everysec, one machine"},
        "results": rows,
        "raw": {str(n): runs for n, runs in results.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="Worker processes.")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--shards", type=int, action="append")
    parser.add_argument("--keep-log", help="Copy the workers' log here.")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args()
    args.shards = args.shards or [1, 2, 3]
    report = asyncio.run(main_async(args))
    print(table(report["results"]))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"cluster-shards-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
