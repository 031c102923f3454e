"""arq under the common harness (runs in arq's own virtualenv).

arq has no batch-enqueue API; its worker polls the queue every `poll_delay` (0.5 s by
default, kept: the documented default), and `max_jobs` is set to the concurrency asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func

from . import harness
from .harness import Config


async def noop(ctx: dict[str, Any], i: int, t: float, pad: str) -> None:
    await harness.handle(i, t)


class ArqAdapter:
    batch_api = False

    def __init__(self) -> None:
        self.pool: ArqRedis | None = None

    def describe(self, cfg: Config) -> dict[str, Any]:
        return {
            "worker": "arq.worker.Worker(functions=[noop], max_jobs=C, "
            "handle_signals=False, log_results=False); other settings default "
            "(poll_delay 0.5 s, keep_result 3600 s, pickle serializer)",
            "batch enqueue": "none in arq",
        }

    async def connect(self, cfg: Config) -> None:
        self.pool = await create_pool(RedisSettings.from_dsn(cfg.url))

    async def enqueue(self, i: int) -> None:
        assert self.pool is not None
        await self.pool.enqueue_job(harness.TASK_NAME, **harness.payload(i))

    async def enqueue_batch(self, ids: range) -> None:
        raise NotImplementedError("arq has no batch enqueue")

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()

    def prepare_worker(self, cfg: Config) -> Callable[[], None]:
        async def run() -> None:
            worker = Worker(
                functions=[func(noop, name=harness.TASK_NAME)],
                redis_settings=RedisSettings.from_dsn(cfg.url),
                max_jobs=cfg.concurrency,
                handle_signals=False,
                log_results=False,
            )
            await worker.async_run()

        return lambda: asyncio.run(run())


if __name__ == "__main__":
    harness.main(ArqAdapter())
