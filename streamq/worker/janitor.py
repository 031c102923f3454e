"""Janitor: the retention sweeps no transition does by itself; every node runs one.

Job records expire by TTL, which no script hears about, so listing-index entries of
expired records are found here: index:all and each index:type:<t> are checked from the
oldest entry that could have expired (created more than the shortest retention ago), a
bounded batch per sweep, resuming where the last sweep stopped. Finished-status indices
and the dead-letter stream are trimmed by age. Concurrent janitors are harmless: each
removal is checked in the `trim` script.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import anyio

from ..keys import Index
from ..store import Store

log = logging.getLogger("streamq.worker")


class Janitor:
    def __init__(
        self,
        store: Store,
        queues: Sequence[str],
        interval_s: float = 30.0,
        batch: int = 500,
        budget_s: float = 2.0,
    ) -> None:
        self.store = store
        self.queues = list(queues)
        self.interval_s = interval_s
        self.batch = batch
        self.budget_s = budget_s
        self.offsets: dict[tuple[str, Index], int] = {}

    async def run(self) -> None:
        while True:
            await anyio.sleep(self.interval_s)
            await self.sweep_once()

    async def sweep_once(self) -> int:
        """One bounded sweep of every queue; returns the index entries removed."""
        s = self.store.settings
        now = await self.store.redis_time_ms()
        cutoff = now - min(s.result_ttl_s, s.failed_ttl_s) * 1000
        removed = 0
        for queue in self.queues:
            await self.store.trim_retention(queue, now)
            indices = [Index("all")]
            indices += [Index("type", t) for t in await self.store.job_types(queue)]
            for index in indices:
                removed += await self._catch_up(queue, index, cutoff)
        if removed:
            log.info("retention: dropped %d index entries of expired jobs", removed)
        return removed

    async def _catch_up(self, queue: str, index: Index, cutoff: int) -> int:
        """Batch after batch until the index is caught up or the sweep's time budget is
        spent: one batch per interval fell behind any throughput above batch/interval
        (17 jobs/s), and the index grew without bound."""
        removed = 0
        deadline = time.monotonic() + self.budget_s
        while True:
            where = (queue, index)
            offset = self.offsets.get(where, 0)
            checked, gone = await self.store.sweep_index(queue, index, cutoff, offset, self.batch)
            removed += gone
            self.offsets[where] = 0 if checked < self.batch else offset + checked - gone
            if checked < self.batch or time.monotonic() > deadline:
                return removed
