"""Reclaimer: takes entries of crashed or stalled workers back with XAUTOCLAIM."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio

from ..keys import PRIORITIES
from ..metrics import RECLAIMED
from ..shards import queue_of
from ..store import ReclaimResult, Store
from .joblog import log_lost_worker
from .state import NodeState

log = logging.getLogger("streamq.worker")

MAX_PAGES = 20


class Reclaimer:
    """Every node runs one; concurrent reclaimers are safe because each given-back entry
    is checked to be pending under the reclaiming consumer inside the script."""

    def __init__(
        self,
        store: Store,
        state: NodeState,
        queues: Sequence[str],
        min_idle_ms: int,
        interval_s: float,
    ) -> None:
        self.store = store
        self.state = state
        self.queues = list(queues)
        self.min_idle_ms = min_idle_ms
        self.interval_s = interval_s

    async def run(self) -> None:
        while True:
            await anyio.sleep(self.interval_s)
            await self.reclaim_once()
            now_ms = await self.store.redis_time_ms()
            for queue in self.queues:
                await self.store.prune_nodes(queue, now_ms)

    async def reclaim_once(self) -> ReclaimResult:
        """One sweep over every stream of every queue."""
        total = ReclaimResult()
        for queue in self.queues:
            for priority in PRIORITIES:
                total += await self._sweep(queue, priority)
        return total

    async def _sweep(self, queue: str, priority: str) -> ReclaimResult:
        total = ReclaimResult()
        for _ in range(MAX_PAGES):
            result, cursor = await self.store.reclaim(
                queue, priority, self.state.name, self.min_idle_ms
            )
            total += result
            if cursor in (b"0-0", "0-0"):
                break
        if total.requeued or total.dead or total.deleted_seen:
            log.warning(
                "reclaimed from %s/%s: %d given back, %d dead-lettered, %d deleted entries",
                queue, priority, total.requeued, total.dead, total.deleted_seen,
            )
        for job_id, job_type in total.dead_jobs:
            log_lost_worker(queue, job_id, job_type, self.store.settings.max_deliveries)
        RECLAIMED.labels(queue_of(queue), "requeued").inc(total.requeued)
        RECLAIMED.labels(queue_of(queue), "dead").inc(total.dead)
        return total
