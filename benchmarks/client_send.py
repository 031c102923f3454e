"""`python -m benchmarks.client_send`: what one awaited Redis call costs the client process.

A producer enqueueing one job at a time, and a worker at low rates, await each call alone.
With a socket timeout set, redis-py sends each command inside `asyncio.wait_for`, which on
Python 3.11 runs the write in a task of its own; streamq's connections
(`streamq.connection.packing`) bound the same write with `asyncio.timeout` in the calling
task. This measures both on one private redis-server, in one process, interleaved within
each repeat:

- client CPU per call (`time.process_time`: the Python, and the kernel's share of the
  loopback socket, which the sending process pays);
- wall time per call;
- event-loop turns per call (`_run_once` counted on the loop).

Calls: `PING`, and streamq's enqueue script for one job with exactly the keys and arguments
`App.enqueue` sends (built before the clock starts).

    python -m benchmarks.client_send              # 5 repeats of 5,000 calls, medians
    python -m benchmarks.client_send --n 200 --repeats 1
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

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from streamq import App, JobRequest, Settings
from streamq.connection import HiredisConnection
from streamq.scripts import script_source

from .children import REPO
from .redis_server import private_redis

PAYLOAD = {"x": "y" * 90}  # about 100 bytes as JSON, as in the other benchmarks
TIMEOUT_S = 5.0  # streamq's default `redis_timeout_s`


class WaitForSend(HiredisConnection):
    """streamq's connection with redis-py's own send (`asyncio.wait_for`), for comparison."""

    send_packed_command = AbstractConnection.send_packed_command  # type: ignore[assignment]


SENDS: dict[str, type[AbstractConnection]] = {
    "redis-py send (asyncio.wait_for)": WaitForSend,
    "streamq send (asyncio.timeout)": HiredisConnection,
}


def _noop(x: str) -> None:
    return None


class TurnCounter:
    """Counts the event loop's turns (`_run_once`) while installed."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop: Any = loop
        self.turns = 0
        self._run_once = loop._run_once  # type: ignore[attr-defined]

    def __enter__(self) -> TurnCounter:
        def counted() -> None:
            self.turns += 1
            self._run_once()

        self.loop._run_once = counted
        return self

    def __exit__(self, *exc: object) -> None:
        del self.loop._run_once


async def measure(client: Redis, calls: list[Callable[[Redis], Awaitable[Any]]]
                  ) -> dict[str, float]:
    n = len(calls)
    await client.ping()  # connected
    with TurnCounter(asyncio.get_running_loop()) as turns:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for call in calls:
            await call(client)
        cpu1, wall1 = time.process_time(), time.perf_counter()
    return {"client_cpu_us": 1e6 * (cpu1 - cpu0) / n, "wall_us": 1e6 * (wall1 - wall0) / n,
            "loop_turns": turns.turns / n}


async def run(url: str, n: int, repeats: int) -> dict[str, dict[str, dict[str, list[float]]]]:
    app = App(Settings(redis_url=url))
    app.task("noop")(_noop)
    clients = {name: Redis.from_url(url, connection_class=cls, socket_timeout=TIMEOUT_S,
                                    socket_connect_timeout=TIMEOUT_S)
               for name, cls in SENDS.items()}
    sha = await clients[next(iter(SENDS))].script_load(script_source("enqueue"))

    def enqueue_calls() -> list[Callable[[Redis], Awaitable[Any]]]:
        out = []
        for _ in range(n):
            spec = app.build_spec(JobRequest("noop", PAYLOAD))  # a new job id each time
            keys, args = app.store._enqueue_call(spec.queue, [spec], app.store.now_arg())
            out.append(lambda c, k=keys, a=args: c.evalsha(sha, len(k), *k, *a))
        return out

    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    try:
        for _ in range(repeats):
            for name, client in clients.items():
                workloads = {"PING": [lambda c: c.ping()] * n,
                             "enqueue script, one job": enqueue_calls()}
                for call, calls in workloads.items():
                    figures = await measure(client, calls)
                    for metric, value in figures.items():
                        samples.setdefault(call, {}).setdefault(name, {}).setdefault(
                            metric, []).append(value)
    finally:
        for client in clients.values():
            await client.aclose()
        await app.close()
    return samples


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.client_send",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=5000, help="calls per measurement")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    with private_redis() as server:
        samples = asyncio.run(run(server.url, args.n, args.repeats))
    results = {
        call: {send: {metric: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                      for metric, v in metrics.items()}
               for send, metrics in sends.items()}
        for call, sends in samples.items()
    }
    rows = ["| call | send | client CPU µs/call | wall µs/call | loop turns/call |",
            "|---|---|---|---|---|"]
    for call, sends in results.items():
        for send, r in sends.items():
            rows.append(f"| {call} | {send} | {_cell(r['client_cpu_us'])} | "
                        f"{_cell(r['wall_us'])} | {r['loop_turns']['median']:.1f} |")
    print("\n".join(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"client-send-{stamp}.json"
    path.write_text(json.dumps({"benchmark": "client_send", "started": stamp,
                                "repeats": args.repeats, "n": args.n,
                                "machine": {"cpus": os.cpu_count(),
                                            "load_1m": os.getloadavg()[0]},
                                "results": results}, indent=2))
    print(f"\nwritten to {path}")


def _cell(r: dict[str, float]) -> str:
    return f"{r['median']:.1f} ({r['min']:.1f}-{r['max']:.1f})"


if __name__ == "__main__":
    main()
