"""SAQ under the common harness (runs in SAQ's own virtualenv, Redis queue).

SAQ has no batch-enqueue API (`Queue.map` enqueues and then waits for results).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from saq import Queue, Worker

from . import harness
from .harness import Config


async def noop(ctx: dict[str, Any], *, i: int, t: float, pad: str) -> None:
    await harness.handle(i, t)


class SaqAdapter:
    batch_api = False

    def __init__(self) -> None:
        self.queue: Any = None

    def describe(self, cfg: Config) -> dict[str, Any]:
        return {
            "worker": "saq.Worker(Queue.from_url(url), functions=[noop], concurrency=C); "
            "other settings default (dequeue_timeout 0, json serializer)",
            "batch enqueue": "none in SAQ",
        }

    async def connect(self, cfg: Config) -> None:
        self.queue = Queue.from_url(cfg.url)
        await self.queue.connect()

    async def enqueue(self, i: int) -> None:
        await self.queue.enqueue(harness.TASK_NAME, **harness.payload(i))

    async def enqueue_batch(self, ids: range) -> None:
        raise NotImplementedError("SAQ has no batch enqueue")

    async def close(self) -> None:
        await self.queue.disconnect()

    def prepare_worker(self, cfg: Config) -> Callable[[], None]:
        async def run() -> None:
            queue = Queue.from_url(cfg.url)
            worker = Worker(
                queue, functions=[(harness.TASK_NAME, noop)], concurrency=cfg.concurrency
            )
            await worker.start()

        return lambda: asyncio.run(run())


if __name__ == "__main__":
    harness.main(SaqAdapter())
