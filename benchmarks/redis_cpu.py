"""`python -m benchmarks.redis_cpu`: what each step of a job's life costs Redis itself.

N jobs go through every transition script, driven through the store exactly as the
worker drives it (batches of 100: enqueue, fetch, start, finish as success, retry,
dead letter; promote, requeue, cancel, reclaim, admit, release, dead-letter deletion,
index trim). Around each step the Redis process's CPU time (`INFO cpu`: user + sys) and
its command counts (`INFO commandstats`, counting the commands scripts send) are read,
so a step reports Redis CPU microseconds per job and Redis commands per job. The enqueue
step also reports Redis bytes per queued job (`INFO memory` used_memory delta).

Each repeat runs in a fresh process on a fresh private redis-server (no persistence);
with several `--ref`, the sources are interleaved within each repeat so that drift of
the machine affects them alike. Prints a table of medians (min-max) and writes JSON.

    python -m benchmarks.redis_cpu --ref main --ref HEAD      # before / after
    python -m benchmarks.redis_cpu --n 500 --repeats 1         # smoke run (work tree)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .children import REPO, child_env
from .source import describe, export
from .stats import summarize

BATCH = 100
QUEUE = "bench"
TYPE = "bench.job"
PAYLOAD = b'{"to":"someone@example.org","subject":"hello","n":1,"pad":"' + b"x" * 39 + b'"}'
"""100 bytes of JSON, as in the peer benchmark: longer than `hash-max-listpack-value`."""

STEPS = (
    "enqueue", "fetch", "start", "finish retry", "promote", "finish failed", "requeue",
    "finish succeeded", "trim index", "cancel", "reclaim", "admit", "release", "dlq delete",
)


# -- the child: one repeat, on its own redis-server --------------------------------------------


class Meter:
    """Redis CPU seconds and command counts, read from INFO (the INFO calls not counted)."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.steps: dict[str, dict[str, float]] = {}

    async def _read(self) -> tuple[float, dict[str, tuple[int, int]]]:
        cpu = await self.redis.info("cpu")
        stats = await self.redis.info("commandstats")
        calls = {
            name.removeprefix("cmdstat_"): (int(value["calls"]), int(value["usec"]))
            for name, value in stats.items()
            if name != "cmdstat_info"
        }
        return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), calls

    @asynccontextmanager
    async def step(self, name: str, jobs: int) -> AsyncIterator[None]:
        cpu0, stats0 = await self._read()
        yield
        cpu1, stats1 = await self._read()
        calls = {c: n - stats0.get(c, (0, 0))[0] for c, (n, _) in stats1.items()}
        usec = {c: u - stats0.get(c, (0, 0))[1] for c, (_, u) in stats1.items()}
        scripts = ("evalsha", "eval")
        self.steps[name] = {
            "cpu_us_per_job": 1e6 * (cpu1 - cpu0) / jobs,
            "commands_per_job": sum(calls.values()) / jobs,
            "script_calls_per_job": sum(calls.get(c, 0) for c in scripts) / jobs,
            # commandstats times a script call whole, the commands it sends included, and
            # each of those commands again on its own: the difference is the script's own
            # work (Lua, and converting each command's arguments and reply).
            "script_us_per_job": sum(usec.get(c, 0) for c in scripts) / jobs,
            "in_commands_us_per_job": sum(
                u for c, u in usec.items() if c not in scripts and not c.startswith("script")
            ) / jobs,
        }


def chunks(items: Sequence[Any], size: int = BATCH) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def scenario(url: str, n: int) -> dict[str, dict[str, float]]:
    """Every step once over `n` jobs; returns per-job figures by step."""
    from redis.asyncio import Redis

    from streamq.job import Delivery, Outcome, OutcomeKind
    from streamq.keys import PRIORITIES, Index
    from streamq.settings import Settings
    from streamq.store import EnqueueSpec, Store

    redis = Redis.from_url(url)
    store = Store(redis, Settings(redis_url=url, queue=QUEUE))
    meter = Meter(redis)
    await store.ensure_groups(QUEUE)
    serial = iter(range(10**9))

    def specs() -> list[EnqueueSpec]:
        return [
            EnqueueSpec(QUEUE, f"job-{next(serial):08d}", TYPE, PAYLOAD, "normal", 3, 30.0)
            for _ in range(n)
        ]

    async def enqueue() -> list[str]:
        batch = specs()
        for chunk in chunks(batch):
            await store.enqueue(chunk)
        return [s.job_id for s in batch]

    async def fetch(consumer: str = "w1") -> list[Delivery]:
        got: list[Delivery] = []
        while True:
            page = (await store.fetch(QUEUE, PRIORITIES, consumer, BATCH)).deliveries
            if not page:
                return got
            got += page

    async def start(deliveries: list[Delivery], consumer: str = "w1") -> list[Delivery]:
        started: list[Delivery] = []
        for chunk in chunks(deliveries):
            started += await store.start(consumer, chunk)
        return started

    async def finish(started: list[Delivery], kind: OutcomeKind) -> None:
        for chunk in chunks(started):
            codes = await store.finish([
                Outcome(d, kind, result=b"1", error="boom", error_type="ValueError",
                        traceback="Traceback ...", reason="error") for d in chunk
            ])
            assert all(int(c) == 1 for c in codes), codes

    async def dead_pairs() -> list[tuple[str, str, str]]:
        entries = await store.dead_range(QUEUE, "-", "+", 10 * n)
        return [(e.entry_id, e.job_id, str(e.time_ms)) for e in entries]

    try:
        memory = int((await redis.info("memory"))["used_memory"])
        async with meter.step("enqueue", n):
            await enqueue()
        queued_bytes = int((await redis.info("memory"))["used_memory"]) - memory
        meter.steps["enqueue"]["bytes_per_job"] = queued_bytes / n
        async with meter.step("fetch", n):
            fetched = await fetch()
        async with meter.step("start", n):
            started = await start(fetched)
        assert len(started) == n
        async with meter.step("finish retry", n):
            await finish(started, OutcomeKind.RETRY)
        async with meter.step("promote", n):
            while (await store.promote(QUEUE)).promoted:
                pass
        started = await start(await fetch())
        async with meter.step("finish failed", n):
            await finish(started, OutcomeKind.FAILED)
        dead = await dead_pairs()
        async with meter.step("requeue", n):
            for chunk in chunks(dead):
                await store.requeue_many(QUEUE, [(job_id, entry) for entry, job_id, _ in chunk])
        started = await start(await fetch())
        assert len(started) == n
        async with meter.step("finish succeeded", n):
            await finish(started, OutcomeKind.SUCCEEDED)
        done = [d.job_id for d in started]
        await redis.delete(*(store.keys(QUEUE).job(j) for j in done))
        async with meter.step("trim index", n):
            for chunk in chunks(done):
                await store.trim_index(QUEUE, Index("all"), chunk)

        cancelled = await enqueue()
        async with meter.step("cancel", n):
            for job_id in cancelled:
                await store.cancel(QUEUE, job_id)
        await start(await fetch())  # the cancelled jobs' entries: skipped

        await enqueue()
        assert len(await start(await fetch("lost"), "lost")) == n
        async with meter.step("reclaim", n):
            while (await store.reclaim(QUEUE, "normal", "rc", 0, BATCH))[0].requeued:
                pass
        parked = await fetch()
        async with meter.step("admit", n):
            for chunk in chunks(parked):
                assert all(await store.admit(QUEUE, "normal", TYPE, 10 * n, chunk))
        async with meter.step("release", n):
            for chunk in chunks(parked):
                await store.release(QUEUE, TYPE, 10 * n, [d.job_id for d in chunk])
        await finish(await start(parked), OutcomeKind.FAILED)
        dead = [d for d in await dead_pairs() if d[1] in {p.job_id for p in parked}]
        async with meter.step("dlq delete", n):
            for chunk in chunks(dead):
                await store.dlq_delete(QUEUE, [(e, j, TYPE, t) for e, j, t in chunk])
    finally:
        await redis.aclose()
    return meter.steps


def child(n: int) -> None:
    from .redis_server import private_redis

    with private_redis("none") as server:
        steps = asyncio.run(scenario(server.url, n))
    print(json.dumps(steps))


# -- the parent: repeats, sources, table -------------------------------------------------------


def run_child(root: Path, n: int) -> dict[str, dict[str, float]]:
    env = {**child_env(), "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.redis_cpu", "--child", "--n", str(n)],
        cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measurement failed:\n{done.stderr[-3000:]}")
    result: dict[str, dict[str, float]] = json.loads(done.stdout.splitlines()[-1])
    return result


def summary(samples: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for step in STEPS:
        out[step] = {}
        for metric in ("cpu_us_per_job", "commands_per_job", "script_calls_per_job",
                       "script_us_per_job", "in_commands_us_per_job"):
            # a ref measured from before a metric existed has none of it
            s = summarize([sample[step][metric] for sample in samples
                           if metric in sample[step]])
            out[step][metric] = s.as_dict() if s else None
    held = summarize([sample["enqueue"]["bytes_per_job"] for sample in samples])
    out["enqueue"]["bytes_per_job"] = held.as_dict() if held else None
    return out


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    names = list(results)
    head = ["step", *(f"{name}: Redis CPU us/job" for name in names),
            *(f"{name}: commands/job" for name in names),
            *(f"{name}: scripts / inside their commands, us/job" for name in names)]
    rows = [head, ["---"] * len(head)]
    for step in STEPS:
        cpu = [results[name][step]["cpu_us_per_job"] for name in names]
        cmds = [results[name][step]["commands_per_job"] for name in names]
        split = [(results[name][step].get("script_us_per_job"),
                  results[name][step].get("in_commands_us_per_job")) for name in names]
        rows.append([
            step,
            *(f"{c['median']:.1f} ({c['min']:.1f}-{c['max']:.1f})" for c in cpu),
            *(f"{c['median']:.2f}" for c in cmds),
            *(f"{a['median']:.1f} / {b['median']:.1f}" if a and b else "—" for a, b in split),
        ])
    held = [results[name]["enqueue"].get("bytes_per_job") for name in names]
    rows.append([
        "Redis bytes per queued job",
        *(f"{b['median']:,.0f} ({b['min']:,.0f}-{b['max']:,.0f})" if b else "—" for b in held),
        *("" for _ in names),
        *("" for _ in names),
    ])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.redis_cpu", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=2000, help="jobs per step (default 2000)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats (default 5)")
    parser.add_argument(
        "--ref", action="append", default=[],
        help="measure streamq as committed at this git ref (repeatable); default: work tree",
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results",
        help="directory for redis-cpu-<stamp>.json",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.n)
        return

    sources: dict[str, tuple[Path, dict[str, Any]]] = {}
    for ref in args.ref:
        root, commit = export(ref)
        sources[ref] = (root, describe(ref, commit))
    if not args.ref:
        sources["work tree"] = (REPO, describe(None, None))
    samples: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in sources}
    for repeat in range(args.repeats):
        for name, (root, _) in sources.items():
            print(f"repeat {repeat + 1}/{args.repeats}: {name}", file=sys.stderr, flush=True)
            samples[name].append(run_child(root, args.n))
    results = {name: summary(s) for name, s in samples.items()}
    print(table(results))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    document = {
        "benchmark": "redis_cpu",
        "started": stamp,
        "n": args.n,
        "repeats": args.repeats,
        "machine": {"cpus": os.cpu_count(), "load_1m": os.getloadavg()[0]},
        "sources": {name: meta for name, (_, meta) in sources.items()},
        "results": results,
        "finished_s": time.time(),
    }
    path = args.out / f"redis-cpu-{stamp}.json"
    path.write_text(json.dumps(document, indent=2))
    print(f"\nwritten to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
