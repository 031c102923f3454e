"""What watching a job and a process costs: container health probes and `wait_for`.

    python -m benchmarks.probes [--repeats 5] [--out benchmarks/results]

- **health probes**: CPU seconds (user + system, of the probe and its children) and wall
  time of one probe: `streamq check` (starts a Python interpreter and pings Redis) against
  the image's HEALTHCHECK (a shell reading the liveness file's age).
- **wait_for**: for a job that runs 2 s, how many times the waiter read the job record
  (`HGETALL`, from Redis's own command statistics) and how long after the job's end it
  returned; `wait_for` (woken by the job's events) against a loop reading the record every
  20 ms (what it did before).

Prints a table of medians (min-max) over the repeats and writes `probes-<stamp>.json`.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import orjson

from benchmarks.redis_server import private_redis
from benchmarks.stats import summarize
from streamq import App, Settings
from streamq.worker import Node

ROOT = Path(__file__).resolve().parents[1]
JOB_S = 2.0


def image_healthcheck() -> str:
    text = (ROOT / "services" / "Dockerfile").read_text().replace("\\\n", " ")
    [line] = [x for x in text.splitlines() if x.strip().startswith("HEALTHCHECK")]
    return line.split(" CMD ", 1)[1].strip()


def child_cost(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of `argv`, children included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=60)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def probes(redis_url: str, repeats: int) -> dict[str, dict[str, list[float]]]:
    alive = Path(tempfile.mkdtemp(prefix="streamq-probe-")) / "alive"
    alive.touch()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "STREAMQ_REDIS_URL": redis_url,
           "STREAMQ_LIVENESS_FILE": str(alive)}
    runs: dict[str, list[str]] = {
        "streamq check": [sys.executable, "-m", "streamq", "check"],
        "liveness file (shell)": ["/bin/sh", "-c", image_healthcheck()],
    }
    out: dict[str, dict[str, list[float]]] = {}
    for name, argv in runs.items():
        child_cost(argv, env)  # warm the page cache
        costs = [child_cost(argv, env) for _ in range(repeats)]
        out[name] = {"cpu_ms": [c * 1000 for c, _ in costs],
                     "wall_ms": [w * 1000 for _, w in costs]}
    alive.unlink()
    alive.parent.rmdir()
    return out


async def hgetall_calls(app: App) -> int:
    stats = await app.redis.info("commandstats")
    return int(stats.get("cmdstat_hgetall", {}).get("calls", 0))


async def poll_every_20ms(app: App, job_id: str) -> None:
    """The polling wait_for did before: the baseline measured."""
    while not (await app.get_job(job_id)).status.terminal:  # noqa: ASYNC110
        await anyio.sleep(0.02)


async def event_wait(app: App, job_id: str) -> None:
    await app.wait_for(job_id, timeout_s=30)


async def one_wait(app: App, waiter: Callable[[App, str], Any]) -> tuple[float, float]:
    """(record reads, ms from the job's end to the waiter's return) for one 2 s job."""
    job_id = await app.enqueue("bench.sleep", {"seconds": JOB_S})
    await app.redis.config_resetstat()
    await waiter(app, job_id)
    returned = time.time()
    reads = await hgetall_calls(app)
    job = await app.get_job(job_id)
    assert job.finished_at is not None
    return reads, (returned - job.finished_at.timestamp()) * 1000


async def waits(redis_url: str, repeats: int) -> dict[str, dict[str, list[float]]]:
    app = App(Settings(redis_url=redis_url))

    @app.task("bench.sleep", max_retries=0)
    async def sleep(seconds: float) -> None:
        await anyio.sleep(seconds)

    node = Node(app, concurrency=4)
    out: dict[str, dict[str, list[float]]] = {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(node.run)
        await node.started.wait()
        for name, waiter in (("wait_for (events)", event_wait),
                             ("poll every 20 ms", poll_every_20ms)):
            samples = [await one_wait(app, waiter) for _ in range(repeats)]
            out[name] = {"record_reads": [r for r, _ in samples],
                         "end_to_return_ms": [ms for _, ms in samples]}
        node.stop()
    await app.close()
    return out


def cell(values: list[float]) -> str:
    s = summarize(values)
    if s is None:
        return "-"
    return f"{s.median:.1f} ({s.low:.1f}-{s.high:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    with private_redis() as server:
        probe_results = probes(server.url, args.repeats)
        wait_results = anyio.run(waits, server.url, args.repeats)
    print(f"health probes, {args.repeats} runs: median (min-max)")
    print("| probe | CPU ms | wall ms |\n|---|---|---|")
    for name, r in probe_results.items():
        print(f"| {name} | {cell(r['cpu_ms'])} | {cell(r['wall_ms'])} |")
    print(f"\nwaiting for a {JOB_S:g} s job, {args.repeats} runs: median (min-max)")
    print("| waiter | record reads | job end to return, ms |\n|---|---|---|")
    for name, r in wait_results.items():
        print(f"| {name} | {cell(r['record_reads'])} | {cell(r['end_to_return_ms'])} |")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"probes-{stamp}.json"
    path.write_bytes(orjson.dumps({"repeats": args.repeats, "job_s": JOB_S,
                                   "python": sys.version.split()[0], "probes": probe_results,
                                   "waits": wait_results}, option=orjson.OPT_INDENT_2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
