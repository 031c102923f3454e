"""`python -m benchmarks.round_trip`: what one call costs Redis when it comes alone.

A producer that enqueues one job at a time waits for each reply, so Redis handles every
call on its own: it wakes, reads, runs the call, answers and sleeps again. This measures
the Redis CPU (`INFO cpu`) of one call sent that way, on a private redis-server, against
the same calls sent back to back in one pipeline:

- `PING` and a bare `XADD` (what the benchmarks' bare loop sends per one-at-a-time job):
  the cost of a round trip itself;
- `EVALSHA` of a script that only returns, with the keys and arguments of an enqueue;
- streamq's enqueue script for one job, with exactly the keys and arguments
  `App.enqueue` sends (a new job id each call).

    python -m benchmarks.round_trip               # 5 repeats of 4,000 calls, medians
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from streamq import App, JobRequest, Settings
from streamq.scripts import script_source

from .children import REPO
from .redis_meter import RedisMeter
from .redis_server import private_redis

PAYLOAD = {"x": "y" * 90}  # about 100 bytes as JSON, as in the other benchmarks

Call = Callable[[Any], object]
"""Queues (on a pipeline) or sends (on a client) one call."""


def _noop(x: str) -> None:
    return None


def calls(client: Any, url: str) -> dict[str, Call]:
    app = App(Settings(redis_url=url))
    app.task("noop")(_noop)

    def enqueue_call() -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of `App.enqueue` for one new job, as the store builds them."""
        spec = app.build_spec(JobRequest("noop", PAYLOAD))  # a new job id each time
        return app.store._enqueue_call(spec.queue, [spec], app.store.now_arg())

    enqueue_sha = client.script_load(script_source("enqueue"))
    return_sha = client.script_load("return 1")
    sample_keys, sample_args = enqueue_call()

    def enqueue(c: Any) -> object:
        keys, args = enqueue_call()
        return c.evalsha(enqueue_sha, len(keys), *keys, *args)

    return {
        "PING": lambda c: c.ping(),
        "XADD of a 100-byte entry": lambda c: c.xadd("bare", {"p": "x" * 100}),
        "EVALSHA of a script that only returns, an enqueue's keys and arguments": (
            lambda c: c.evalsha(return_sha, len(sample_keys), *sample_keys, *sample_args)
        ),
        "EVALSHA of streamq's enqueue script, one job": enqueue,
    }


def measure(meter: RedisMeter, call: Call, n: int, pipelined: bool) -> float:
    """Redis CPU µs per call; arguments are built before the clock starts."""
    client = meter.client
    if pipelined:
        pipe = client.pipeline(transaction=False)
        for _ in range(n):
            call(pipe)
        cpu0 = meter.cpu_s()
        pipe.execute()
    else:
        recorder = _Recorder()
        for _ in range(n):
            call(recorder)
        cpu0 = meter.cpu_s()
        for name, args in recorder.sent:
            getattr(client, name)(*args)
    return 1e6 * (meter.cpu_s() - cpu0) / n


class _Recorder:
    """Stands in for the client while arguments are built, so that the timed loop only
    sends (building an enqueue's arguments costs the producer, not Redis)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.sent.append((name, args))
        return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.round_trip",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=4000, help="calls per measurement")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    samples: dict[str, dict[str, list[float]]] = {}
    with private_redis() as server:
        client = redis.Redis.from_url(server.url)
        meter = RedisMeter(client)
        named = calls(client, server.url)
        for _ in range(args.repeats):
            for name, call in named.items():
                for mode in ("alone", "pipelined"):
                    us = measure(meter, call, args.n, mode == "pipelined")
                    samples.setdefault(name, {}).setdefault(mode, []).append(us)
        client.close()
    results = {
        name: {mode: {"median": statistics.median(v), "min": min(v), "max": max(v)}
               for mode, v in modes.items()}
        for name, modes in samples.items()
    }
    rows = ["| one call | Redis CPU µs, each call alone | Redis CPU µs, calls pipelined |",
            "|---|---|---|"]
    for name, r in results.items():
        rows.append(f"| {name} | {_cell(r['alone'])} | {_cell(r['pipelined'])} |")
    print("\n".join(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"round-trip-{stamp}.json"
    path.write_text(json.dumps({"benchmark": "round_trip", "started": stamp,
                                "repeats": args.repeats, "n": args.n,
                                "machine": {"cpus": os.cpu_count(),
                                            "load_1m": os.getloadavg()[0]},
                                "results": results}, indent=2))
    print(f"\nwritten to {path}")


def _cell(r: dict[str, float]) -> str:
    return f"{r['median']:.1f} ({r['min']:.1f}-{r['max']:.1f})"


if __name__ == "__main__":
    main()
