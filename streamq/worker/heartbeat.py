"""Heartbeat: renews the leases of in-flight entries and the node's registry entry."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence

import anyio

from ..job import Delivery
from ..metrics import LEASES_LOST
from ..shards import queue_of
from ..store import Store
from .state import NodeState

log = logging.getLogger("streamq.worker")


class Heartbeat:
    """Every third of the visibility timeout, refresh the idle time of every entry this
    node holds (owner-checked), so a job longer than the timeout is never taken back."""

    def __init__(
        self,
        store: Store,
        state: NodeState,
        queues: Sequence[str],
        interval_s: float,
        tasks: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.state = state
        self.queues = list(queues)
        self.interval_s = interval_s
        self.tasks = dict(tasks or {})  # type -> queue, announced for app-less clients
        self.leases_lost = 0

    async def run(self) -> None:
        while True:
            await self.beat_once()
            await anyio.sleep(self.interval_s)

    async def beat_once(self) -> int:
        """Renew every lease; returns how many were found lost to another consumer."""
        began = self.state.beat_began = time.monotonic()
        try:
            return await self._beat(began)
        finally:
            self.state.beat_began = None

    async def _beat(self, began: float) -> int:
        held = list(self.state.held.values())
        # Leases that ran out before this beat (the node was frozen or cut off) may have
        # been taken by another node, whatever this node's completer is doing with them.
        expired = began >= self.state.lease_valid_until > 0
        lost = await self.store.renew(self.state.name, held)
        # An entry acknowledged by the completer while the renewal was on its way is no
        # longer pending either: only entries still held, and not being persisted while
        # their leases were valid, were really lost (a late outcome is fenced off as stale).
        lost = [d for d in lost if self._still_running(d, expired)]
        if lost:  # one line per beat, however many: a lost group can take hundreds at once
            log.warning(
                "leases of %d jobs were lost (node frozen or cut off past its visibility "
                "timeout, or their entries deleted): %s", len(lost),
                " ".join(d.job_id for d in lost[:20]) + (" ..." if len(lost) > 20 else ""),
            )
        self.leases_lost += len(lost)
        for d in lost:
            LEASES_LOST.labels(queue_of(d.queue)).inc()
            scope = self.state.running.get(d.job_id)
            if scope is not None:
                scope.cancel()  # another node runs it now; its outcome would be fenced off
        await self.store.register_node(self.queues, self.state.name, self.info())
        if expired:  # the fetchers waited for this beat; said once, lost leases or not
            log.warning(
                "this node's lease had run out %.1f s before this heartbeat (node frozen or "
                "cut off past its visibility timeout): renewed, taking work again",
                began - self.state.lease_valid_until,
            )
        self.state.renewed(began)
        return len(lost)

    def _still_running(self, d: Delivery, expired: bool) -> bool:
        key = (d.queue, d.priority, d.entry_id)
        return self.state.held.get(key) is d and (expired or key not in self.state.persisting)

    def info(self) -> dict[str, object]:
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "concurrency": self.state.slots.total,
            "in_flight": self.state.slots.busy,
            "leases_lost": self.leases_lost,
            "queues": self.queues,
            "tasks": self.tasks,
        }
