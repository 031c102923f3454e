"""Fetcher: takes new entries for free slots and hands them to the executors."""

from __future__ import annotations

import logging
import time

import anyio
from anyio.abc import ObjectSendStream

from ..job import Delivery
from ..metrics import QUEUE_WAIT_SECONDS
from ..policy import PriorityOrder
from ..store import Store
from .state import NodeState

log = logging.getLogger("streamq.worker")


class Fetcher:
    """One per queue. A round trip fetches a whole batch (strict or weighted priority
    order, in one script), a second marks it started; when every stream is empty it
    blocks on XREADGROUP so that a new job starts at once."""

    def __init__(
        self,
        store: Store,
        state: NodeState,
        queue: str,
        order: PriorityOrder,
        jobs: ObjectSendStream[Delivery],
        block_ms: int,
        burst: bool = False,
    ) -> None:
        self.store = store
        self.state = state
        self.queue = queue
        self.order = order
        self.jobs = jobs
        self.block_ms = block_ms
        self.burst = burst

    async def run(self) -> None:
        await self.store.ensure_groups(self.queue)
        while True:
            if not await self.fetch_once():
                return

    async def fetch_once(self) -> bool:
        """Fetch and dispatch one batch; False when a burst node has nothing left to do."""
        free = await self.state.slots.wait_free()
        while not self.state.lease_ok():  # noqa: ASYNC110 - the heartbeat sets a deadline
            await anyio.sleep(0.05)  # frozen past our lease: wait for the heartbeat
        name = self.state.name
        fetched = await self.store.fetch(self.queue, self.order.next(), name, free)
        deliveries = fetched.deliveries
        if not deliveries:
            if self.burst:
                return await self._burst_has_more()
            if not fetched.active_priorities:
                await anyio.sleep(0.25)  # queue paused
                return True
            per_stream = max(1, free // len(fetched.active_priorities))
            deliveries = await self.store.fetch_blocking(
                self.queue, fetched.active_priorities, name, per_stream, self.block_ms
            )
        if deliveries:
            await self.dispatch(deliveries)
        return True

    async def dispatch(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            self.state.hold(d)  # held before start: a crash in between leaves it pending
        runnable = await self.store.start(self.state.name, deliveries)
        for d in deliveries:
            self.state.drop(d)
        now_ms = time.time() * 1000
        for d in runnable:
            self.state.hold(d)  # now with its run number, for fencing and renewal
            self.state.slots.take()
            wait_s = max(0.0, now_ms - d.enqueued_ms) / 1000
            QUEUE_WAIT_SECONDS.labels(d.queue, d.priority).observe(wait_s)
            await self.jobs.send(d)

    async def _burst_has_more(self) -> bool:
        """A burst node stops once nothing is queued, running or waiting to be retried."""
        if self.state.held:
            await anyio.sleep(0.05)
            return True
        if await self.store.scheduled_count(self.queue):
            await anyio.sleep(0.05)
            return True
        return False
