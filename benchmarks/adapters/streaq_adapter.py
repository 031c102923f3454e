"""streaq under the common harness (runs in streaq's own virtualenv, coredis client).

The worker runs as `streaq` runs one process: `Worker.run_async` with concurrency C;
batch enqueue is `Worker.enqueue_many`, which pipelines the tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio
from streaq import Worker

from . import harness
from .harness import Config


def _worker(url: str, concurrency: int = 16) -> tuple[Any, Any]:
    worker = Worker(redis_url=url, concurrency=concurrency, handle_signals=False)

    @worker.task
    async def noop(i: int, t: float, pad: str) -> None:
        await harness.handle(i, t)

    return worker, noop


class StreaqAdapter:
    batch_api = True

    def __init__(self) -> None:
        self.worker: Any = None
        self.task: Any = None
        self.stack = AsyncExitStack()

    def describe(self, cfg: Config) -> dict[str, Any]:
        return {
            "worker": "streaq.Worker(redis_url, concurrency=C, handle_signals=False)"
            ".run_async(); other settings default (pickle serializer, prefetch = C)",
            "batch enqueue": "Worker.enqueue_many([task.enqueue(...), ...]), chunks of 1000",
        }

    async def connect(self, cfg: Config) -> None:
        self.worker, self.task = _worker(cfg.url)
        await self.stack.enter_async_context(self.worker)

    async def enqueue(self, i: int) -> None:
        await self.task.enqueue(**harness.payload(i))

    async def enqueue_batch(self, ids: range) -> None:
        await self.worker.enqueue_many([self.task.enqueue(**harness.payload(i)) for i in ids])

    async def close(self) -> None:
        await self.stack.aclose()

    def prepare_worker(self, cfg: Config) -> Callable[[], None]:
        worker, _ = _worker(cfg.url, cfg.concurrency)
        return lambda: anyio.run(worker.run_async)


if __name__ == "__main__":
    harness.main(StreaqAdapter())
