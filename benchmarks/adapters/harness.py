"""The child-process side of every measurement: one protocol for all systems under test.

The orchestrator runs `python -m benchmarks.adapters.<system> ROLE CONFIG_JSON` with the
system's own interpreter. Peer virtualenvs hold nothing but their queue library, so this
module imports only the standard library.

Every system runs the same handler (`handle` / `handle_sync`): it notes when it starts,
optionally sleeps, and notes when it returns. Timings go to a binary file through a
background thread, so completion is detected identically for every system, without a
Redis round trip in the handler and without trusting any library's own counters.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

RECORD = struct.Struct("<dddd")
"""One finished job: its index, enqueue time, handler start, handler end (Unix seconds)."""

TASK_NAME = "noop"
PAYLOAD_BYTES = 100
_FRAME = len('{"i":,"t":,"pad":""}')


def payload(i: int) -> dict[str, Any]:
    """A job's arguments, exactly `PAYLOAD_BYTES` as compact JSON whatever `i` and `t`
    (the pad takes up the slack), so that Redis bytes per job compare across systems;
    `t` is taken just before enqueueing."""
    t = time.time()
    return {"i": i, "t": t, "pad": "x" * (PAYLOAD_BYTES - _FRAME - len(str(i)) - len(repr(t)))}


@dataclass
class Config:
    """What the orchestrator asks of one child process (see `benchmarks.workloads`)."""

    url: str
    n: int = 0
    mode: str = "single"
    batch: int = 1000
    rate: float = 0.0
    warmup: int = 0
    concurrency: int = 100
    sleep_ms: float = 0.0
    out: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Recorder:
    """Collects job timings from handlers; a daemon thread appends them to `path`.

    `deque.append` is atomic under the GIL, so handlers on any thread (Dramatiq runs
    handlers on threads) can record without a lock. The file is flushed every 50 ms:
    its size tells the orchestrator how many jobs have completed. Timings come from the
    records, not from when they are seen, so the period only delays detection; it is kept
    long so that the thread's wake-ups add little to the worker CPU measured."""

    def __init__(self, path: str, period_s: float = 0.05) -> None:
        self._items: deque[tuple[float, float, float, float]] = deque()
        self._file = open(path, "ab", buffering=0)
        self._period_s = period_s
        threading.Thread(target=self._loop, name="recorder", daemon=True).start()

    def record(self, i: float, t: float, start: float, end: float) -> None:
        self._items.append((i, t, start, end))

    def _loop(self) -> None:
        while True:
            time.sleep(self._period_s)
            self.flush()

    def flush(self) -> None:
        chunks = []
        while self._items:
            chunks.append(RECORD.pack(*self._items.popleft()))
        if chunks:
            self._file.write(b"".join(chunks))


_recorder: Recorder | None = None
_sleep_s = 0.0


def _note(i: int, t: float, start: float) -> None:
    if _recorder is not None:
        _recorder.record(i, t, start, time.time())


async def handle(i: int, t: float) -> None:
    """The handler every asyncio system runs."""
    start = time.time()
    if _sleep_s:
        await asyncio.sleep(_sleep_s)
    _note(i, t, start)


def handle_sync(i: int, t: float) -> None:
    """The same handler for thread-based systems (Dramatiq): a blocking sleep."""
    start = time.time()
    if _sleep_s:
        time.sleep(_sleep_s)
    _note(i, t, start)


class Adapter(Protocol):
    """What each system's adapter module provides."""

    batch_api: bool
    """Whether the system has a documented batch-enqueue API."""

    def describe(self, cfg: Config) -> dict[str, Any]:
        """The settings this adapter uses, recorded with the results."""

    async def connect(self, cfg: Config) -> None: ...

    async def enqueue(self, i: int) -> None: ...

    async def enqueue_batch(self, ids: range) -> None: ...

    async def close(self) -> None: ...

    def prepare_worker(self, cfg: Config) -> Callable[[], None]:
        """Build the worker (imports, objects); return a blocking call that runs it."""


# -- roles --------------------------------------------------------------------------------


def _chunks(n: int, size: int) -> list[range]:
    """0..n-1 in consecutive ranges of at most `size`."""
    return [range(first, min(n, first + size)) for first in range(0, n, size)]


async def _enqueue(adapter: Adapter, cfg: Config) -> dict[str, Any]:
    """Enqueue `n` jobs one at a time, or through the batch API, and time it."""
    await adapter.connect(cfg)
    try:
        start = time.perf_counter()
        if cfg.mode == "batch":
            for ids in _chunks(cfg.n, cfg.batch):
                await adapter.enqueue_batch(ids)
        else:
            for i in range(cfg.n):
                await adapter.enqueue(i)
        seconds = time.perf_counter() - start
    finally:
        await adapter.close()
    return {"n": cfg.n, "seconds": seconds}


async def _fill(adapter: Adapter, cfg: Config) -> dict[str, Any]:
    """Pre-enqueue `n` jobs as fast as the system allows (setup, not measured)."""
    await adapter.connect(cfg)
    try:
        if adapter.batch_api:
            for ids in _chunks(cfg.n, cfg.batch):
                await adapter.enqueue_batch(ids)
        else:
            for ids in _chunks(cfg.n, 64):
                await asyncio.gather(*(adapter.enqueue(i) for i in ids))
    finally:
        await adapter.close()
    return {"n": cfg.n}


async def _rate(adapter: Adapter, cfg: Config) -> dict[str, Any]:
    """Open-loop producer: job k is due at t0 + k/rate; a late job is sent at once.

    `warmup` jobs (negative indices, 20 ms apart) go first so that connection set-up and
    lazy initialisation in the worker are not counted as latency.
    """
    await adapter.connect(cfg)
    try:
        for k in range(cfg.warmup):
            await adapter.enqueue(-1 - k)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        period = 1.0 / cfg.rate
        start = time.perf_counter()
        late = 0
        for k in range(cfg.n):
            delay = start + k * period - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.005:
                late += 1
            await adapter.enqueue(k)
        seconds = time.perf_counter() - start
    finally:
        await adapter.close()
    return {"n": cfg.n, "seconds": seconds, "achieved_rate": cfg.n / seconds, "late": late}


def _work(adapter: Adapter, cfg: Config) -> None:
    """Run a worker until the orchestrator kills it.

    Imports and object construction happen first; then the process announces itself
    ready and waits for the shared `go` file, so that several worker processes start
    consuming together and interpreter start-up stays out of the measurement.
    """
    global _recorder, _sleep_s
    _sleep_s = cfg.sleep_ms / 1000
    _recorder = Recorder(cfg.out)
    run = adapter.prepare_worker(cfg)
    Path(cfg.out + ".ready").write_text(str(os.getpid()))
    go = Path(cfg.out).parent / "go"
    while not go.exists():
        time.sleep(0.002)
    run()


def _probe(adapter: Adapter, cfg: Config) -> dict[str, Any]:
    """Versions and settings, for the results file; also proves the adapter imports."""
    from importlib import metadata

    versions = {}
    for dist in cfg.extra.get("dists", []):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "missing"
    return {
        "python": sys.version.split()[0],
        "versions": versions,
        "config": adapter.describe(cfg),
        "batch_api": adapter.batch_api,
    }


def main(adapter: Adapter) -> None:
    """Entry point of every adapter module: `python -m ... ROLE CONFIG_JSON`."""
    role, raw = sys.argv[1], sys.argv[2]
    cfg = Config(**json.loads(raw))
    roles: dict[str, Callable[[Adapter, Config], Coroutine[Any, Any, dict[str, Any]]]] = {
        "enqueue": _enqueue,
        "fill": _fill,
        "rate": _rate,
    }
    if role == "work":
        _work(adapter, cfg)
        return
    if role == "probe":
        result = _probe(adapter, cfg)
    else:
        result = asyncio.run(roles[role](adapter, cfg))
    print(json.dumps(result), flush=True)
