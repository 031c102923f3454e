"""taskiq with taskiq-redis's stream broker (RedisStreamBroker), under the common harness.

The worker is run the way `taskiq worker` runs one process: `run_receiver_task` with
max_async_tasks = C and acknowledgement when the result is saved (the CLI default).
No result backend is configured (taskiq's default); taskiq has no batch-enqueue API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from taskiq import AsyncBroker
from taskiq.acks import AcknowledgeType
from taskiq.api import run_receiver_task
from taskiq_redis import RedisStreamBroker

from . import harness
from .harness import Config


def _broker(url: str) -> tuple[AsyncBroker, Any]:
    broker = RedisStreamBroker(url=url)

    @broker.task(task_name=harness.TASK_NAME)
    async def noop(i: int, t: float, pad: str) -> None:
        await harness.handle(i, t)

    return broker, noop


class TaskiqAdapter:
    batch_api = False

    def __init__(self) -> None:
        self.broker: Any = None
        self.task: Any = None

    def describe(self, cfg: Config) -> dict[str, Any]:
        return {
            "broker": "taskiq_redis.RedisStreamBroker(url) defaults (xread_count 100, "
            "xread_block 2000 ms, no maxlen); no result backend",
            "worker": "taskiq.api.run_receiver_task(broker, max_async_tasks=C, "
            "run_startup=True, ack_time=WHEN_SAVED)",
            "batch enqueue": "none in taskiq",
        }

    async def connect(self, cfg: Config) -> None:
        self.broker, self.task = _broker(cfg.url)
        await self.broker.startup()

    async def enqueue(self, i: int) -> None:
        await self.task.kiq(**harness.payload(i))

    async def enqueue_batch(self, ids: range) -> None:
        raise NotImplementedError("taskiq has no batch enqueue")

    async def close(self) -> None:
        await self.broker.shutdown()

    def prepare_worker(self, cfg: Config) -> Callable[[], None]:
        broker, _ = _broker(cfg.url)

        async def run() -> None:
            await run_receiver_task(
                broker,
                max_async_tasks=cfg.concurrency,
                run_startup=True,
                ack_time=AcknowledgeType.WHEN_SAVED,
            )

        return lambda: asyncio.run(run())


if __name__ == "__main__":
    harness.main(TaskiqAdapter())
