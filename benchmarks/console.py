"""`python -m benchmarks.console`: how fast the console answers with 100,000 jobs in Redis.

Seeds a private redis-server with N jobs (three types, three priorities; by default
100,000 through the store's batch enqueue), lets a worker node dead-letter a few
thousand of a failing type (which also fills the per-minute counters), starts
`streamq api` as its own process, and times each console page over HTTP: the median and
95th percentile of R repeats, after one warm-up request. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from streamq import App, JobRequest, Settings
from streamq.devredis import free_port

from .redis_server import private_redis

app = App()


@app.task("bench.email", max_retries=0)
async def email(to: str) -> None: ...


@app.task("bench.report", max_retries=0)
async def report(account: int) -> None: ...


@app.task("bench.broken", queue="failing", max_retries=0)
async def broken(order: int) -> None:
    raise ValueError(f"upstream refused order {order}")


PAGES = {
    "overview": "",
    "jobs, first page (50)": "jobs",
    "jobs, first page (1000)": "jobs?limit=1000",
    "jobs, status=queued": "jobs?status=queued",
    "jobs, type + priority": "jobs?type=bench.report&priority=low",
    "dead letters by fingerprint": "dead",
    "nodes": "nodes",
}
BUDGET_MS = 300.0


async def seed(url: str, jobs: int, dead: int) -> None:
    client = App(Settings(redis_url=url))
    client.tasks.update(app.tasks)
    kinds = [("bench.email", lambda i: {"to": f"user{i}@example.com"}),
             ("bench.report", lambda i: {"account": i})]
    priorities = ["high", "normal", "normal", "low"]
    for start in range(0, jobs, 5_000):
        batch = [
            JobRequest(kinds[i % 2][0], kinds[i % 2][1](i), priority=priorities[i % 4])
            for i in range(start, min(jobs, start + 5_000))
        ]
        await client.enqueue_many(batch)
    await client.pause(app.settings.queue)  # the seeded jobs stay queued
    from streamq.worker import Node

    for start in range(0, dead, 5_000):
        await client.enqueue_many([
            JobRequest("bench.broken", {"order": i})
            for i in range(start, min(dead, start + 5_000))
        ])
    logging.getLogger("streamq").setLevel(logging.ERROR)  # one warning per dead job
    await Node(client, queues=["failing"], concurrency=200, burst=True).run()
    await client.close()


async def measure(base: str, repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    async with aiohttp.ClientSession() as http:
        for name, path in PAGES.items():
            async with http.get(base + path) as resp:  # warm-up
                assert resp.status == 200, (path, resp.status, await resp.text())
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                async with http.get(base + path) as resp:
                    await resp.read()
                samples.append((time.perf_counter() - started) * 1000)
            times[name] = samples
    return times


def start_api(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STREAMQ_REDIS_URL": url, "STREAMQ_API_DEADLINE_S": "30",
           "STREAMQ_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "streamq", "api", "benchmarks.console:app",
               "--port", str(port)]
    proc = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parents[1])
    deadline = time.monotonic() + 30
    import urllib.request

    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the API did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--dead", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    with private_redis() as server:
        began = time.perf_counter()
        asyncio.run(seed(server.url, args.jobs, args.dead))
        seeded_s = time.perf_counter() - began
        port = free_port()
        api = start_api(server.url, port)
        try:
            times = asyncio.run(measure(f"http://127.0.0.1:{port}/ui/", args.repeats))
        finally:
            api.terminate()
            api.wait(10)
    rows = []
    print(f"console pages with {args.jobs:,} queued jobs and {args.dead:,} dead letters "
          f"(seeded in {seeded_s:.1f} s); {args.repeats} requests each, after a warm-up")
    print(f"{'page':<30} {'median ms':>10} {'p95 ms':>8} {'budget':>8}")
    for name, samples in times.items():
        ordered = sorted(samples)
        median = statistics.median(ordered)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        budgeted = name in ("overview", "jobs, first page (50)")
        verdict = ("ok" if median < BUDGET_MS else "MISSED") if budgeted else ""
        print(f"{name:<30} {median:>10.1f} {p95:>8.1f} {verdict:>8}")
        rows.append({"page": name, "path": PAGES[name], "median_ms": round(median, 2),
                     "p95_ms": round(p95, 2), "samples_ms": [round(s, 2) for s in samples],
                     "budget_ms": BUDGET_MS if budgeted else None})
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = args.out / f"console-{stamp}.json"
    report: dict[str, Any] = {"jobs": args.jobs, "dead": args.dead, "repeats": args.repeats,
                              "cpus": os.cpu_count(), "pages": rows}
    target.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
