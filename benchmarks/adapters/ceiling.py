"""The ceiling: the least a Redis Streams queue can do for the same work.

No job records, retries, leases, indices or events: pipelined XADD to one stream,
XREADGROUP COUNT 100, the shared handler as a task per entry with at most C in flight,
and pipelined XACK + XDEL of finished entries. Whatever streamq does beyond this is the
price of its features; the ratio streamq/ceiling shows that price.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from . import harness
from .harness import Config

STREAM, GROUP = "ceiling:jobs", "workers"


class CeilingAdapter:
    batch_api = True

    def __init__(self) -> None:
        self.redis: Redis | None = None

    def describe(self, cfg: Config) -> dict[str, Any]:
        return {
            "enqueue": "XADD (batch: one pipeline per 1000)",
            "worker": "XREADGROUP COUNT min(100, free slots) BLOCK 1000; one task per "
            "entry, at most C in flight; XACK+XDEL pipelined per completion batch",
        }

    async def connect(self, cfg: Config) -> None:
        self.redis = Redis.from_url(cfg.url)

    async def enqueue(self, i: int) -> None:
        assert self.redis is not None
        await self.redis.xadd(STREAM, {"p": orjson.dumps(harness.payload(i))})

    async def enqueue_batch(self, ids: range) -> None:
        assert self.redis is not None
        pipe = self.redis.pipeline(transaction=False)
        for i in ids:
            pipe.xadd(STREAM, {"p": orjson.dumps(harness.payload(i))})
        await pipe.execute()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()

    def prepare_worker(self, cfg: Config) -> Callable[[], None]:
        return lambda: asyncio.run(_consume(cfg.url, cfg.concurrency))


async def _consume(url: str, concurrency: int) -> None:
    redis = Redis.from_url(url)
    try:
        await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    consumer = f"c{os.getpid()}"
    free = asyncio.Semaphore(concurrency)
    done: list[bytes] = []
    flush_needed = asyncio.Event()

    async def run(entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        args = orjson.loads(fields[b"p"])
        await harness.handle(args["i"], args["t"])
        done.append(entry_id)
        flush_needed.set()
        free.release()

    async def acker() -> None:
        while True:
            await flush_needed.wait()
            flush_needed.clear()
            ids = done[:]
            del done[:]
            if not ids:
                continue
            pipe = redis.pipeline(transaction=False)
            pipe.xack(STREAM, GROUP, *ids)
            pipe.xdel(STREAM, *ids)
            await pipe.execute()

    tasks: set[asyncio.Task[None]] = set()
    ack_task = asyncio.create_task(acker())
    while True:
        await free.acquire()
        slots = 1
        while slots < min(100, concurrency) and not free.locked():
            await free.acquire()
            slots += 1
        reply: Any = await redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=slots, block=1000)
        entries = [e for _, batch in reply or [] for e in batch]
        for _ in range(slots - len(entries)):
            free.release()
        for entry_id, fields in entries:
            task = asyncio.create_task(run(entry_id, fields))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    del ack_task


if __name__ == "__main__":
    harness.main(CeilingAdapter())
