"""Dramatiq with its Redis broker, under the common harness.

Dramatiq runs handlers on threads: the actor is the synchronous twin of the shared
handler. A process gets 8 worker threads (Dramatiq's default) for no-op work, and C
threads when handlers sleep, so that C jobs can wait at once as in the asyncio systems.
Dramatiq has no batch-enqueue API for the Redis broker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from . import harness
from .harness import Config


def _actor(url: str) -> tuple[RedisBroker, Any]:
    broker = RedisBroker(url=url)
    dramatiq.set_broker(broker)

    def noop(i: int, t: float, pad: str) -> None:
        harness.handle_sync(i, t)

    return broker, dramatiq.actor(noop, actor_name=harness.TASK_NAME, broker=broker)


def _threads(cfg: Config) -> int:
    return cfg.concurrency if cfg.sleep_ms else 8


class DramatiqAdapter:
    batch_api = False

    def __init__(self) -> None:
        self.broker: Any = None
        self.actor: Any = None

    def describe(self, cfg: Config) -> dict[str, Any]:
        return {
            "broker": "dramatiq.brokers.redis.RedisBroker(url=url), default middleware",
            "worker": "dramatiq.Worker(broker, worker_threads=8 for no-op jobs, C for "
            "sleeping jobs), one per process",
            "batch enqueue": "none for the Redis broker",
        }

    async def connect(self, cfg: Config) -> None:
        self.broker, self.actor = _actor(cfg.url)

    async def enqueue(self, i: int) -> None:
        self.actor.send(**harness.payload(i))

    async def enqueue_batch(self, ids: range) -> None:
        raise NotImplementedError("Dramatiq has no batch enqueue")

    async def close(self) -> None:
        self.broker.close()

    def prepare_worker(self, cfg: Config) -> Callable[[], None]:
        broker, _ = _actor(cfg.url)

        def run() -> None:
            worker = dramatiq.Worker(broker, worker_threads=_threads(cfg))
            worker.start()
            while True:
                time.sleep(3600)

        return run


if __name__ == "__main__":
    harness.main(DramatiqAdapter())
