"""Scheduler: promotes due delayed jobs and retries into their streams, by Redis time."""

from __future__ import annotations

import logging

import anyio

from ..store import Store

log = logging.getLogger("streamq.worker")

MAX_SLEEP_S = 5.0
BATCH = 500


class Scheduler:
    """One per queue on every node; concurrent schedulers promote each job exactly once
    (the script's ZREM decides). Sleeps until the next due time, or until the enqueue
    script publishes that an earlier job was scheduled."""

    def __init__(self, store: Store, queue: str) -> None:
        self.store = store
        self.queue = queue
        self.wake = anyio.Event()

    def poke(self) -> None:
        self.wake.set()

    async def run(self) -> None:
        while True:
            # A fresh event before the promotion, so that a poke arriving while it is on
            # its way (a job scheduled after the script ran) cuts the next sleep short.
            self.wake = anyio.Event()
            sleep_s = await self.promote_once()
            if sleep_s > 0:
                with anyio.move_on_after(sleep_s):
                    await self.wake.wait()

    async def promote_once(self) -> float:
        """Promote what is due; returns how long to sleep before the next due job."""
        result = await self.store.promote(self.queue, BATCH)
        if result.promoted >= BATCH:
            return 0.0
        if result.next_due_ms is None:
            return MAX_SLEEP_S
        return min(MAX_SLEEP_S, max(0.0, (result.next_due_ms - result.now_ms) / 1000))
