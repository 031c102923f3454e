"""Limiter: keeps per-type concurrency slots (a task's `concurrency=`) honest on every node.

A limited job holds a slot in `streamq:{q}:running:<type>` (score = lease expiry) from its
admission until its outcome is written; jobs over the limit are parked in
`streamq:{q}:waiting:<type>`, still `queued`. The completer frees slots and gives parked
jobs back at once; this actor renews the leases of the node's own running jobs (a job may
run longer than one lease) and gives parked jobs back when a slot was freed by a lease
expiring (its node died) or a release was lost.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

import anyio

from ..store import Store
from .state import NodeState

log = logging.getLogger("streamq.worker")


class Limiter:
    def __init__(
        self, store: Store, state: NodeState, queues: Sequence[str], interval_s: float
    ) -> None:
        self.store = store
        self.state = state
        self.queues = list(queues)
        self.interval_s = interval_s

    async def run(self) -> None:
        if not self.state.limits:
            return
        while True:
            await self.step()
            await anyio.sleep(self.interval_s)

    async def step(self) -> int:
        """Renew own leases, then give back parked jobs for free slots; returns how many."""
        limits = self.state.limits
        mine: dict[tuple[str, str], list[str]] = defaultdict(list)
        for d in self.state.held.values():
            if d.type in limits:
                mine[(d.queue, d.type)].append(d.job_id)
        for (queue, job_type), job_ids in mine.items():
            await self.store.renew_slots(queue, job_type, job_ids)
        given = 0
        for queue in self.queues:
            for job_type, limit in limits.items():
                given += (await self.store.release(queue, job_type, limit)).given_back
        if given:
            log.info("gave %d parked jobs back after slots were freed", given)
        return given
