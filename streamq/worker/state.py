"""State shared by the actors of one node: free slots, held entries, running jobs, lease."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import anyio

from ..job import Delivery


class Slots:
    """How many more jobs the node may take; the fetcher waits while none are free."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.free = total
        self._changed = anyio.Event()
        self._waiters = 0

    def take(self, n: int = 1) -> None:
        self.free -= n

    def release(self, n: int = 1) -> None:
        self.free += n
        if self._waiters:  # a new event only when someone waits: releases are per job
            changed, self._changed = self._changed, anyio.Event()
            changed.set()  # wakes every waiter of the old event; later ones wait on the new

    async def _wait_change(self) -> None:
        self._waiters += 1
        try:
            await self._changed.wait()
        finally:
            self._waiters -= 1

    async def wait_free(self) -> int:
        while self.free <= 0:
            await self._wait_change()
        return self.free

    async def wait_idle(self) -> None:
        """Return once no slot is taken (every running job has finished)."""
        while self.free < self.total:
            await self._wait_change()

    @property
    def busy(self) -> int:
        return self.total - self.free


@dataclass
class NodeState:
    """Mutable facts of a running node, owned by the node and lent to its actors."""

    name: str
    slots: Slots
    lease_s: float
    held: dict[tuple[str, str, bytes], Delivery] = field(default_factory=dict)
    """Entries fetched and not yet persisted: their leases are renewed by the heartbeat."""
    persisting: set[tuple[str, str, bytes]] = field(default_factory=set)
    """Held entries whose outcome is being written: a renewal that finds one acknowledged
    raced the completer; it did not lose a lease."""
    running: dict[str, anyio.CancelScope] = field(default_factory=dict)
    """Cancel scope of each running job, for cancellation requests."""
    lease_valid_until: float = 0.0
    beat_began: float | None = None
    """Monotonic time the heartbeat's current beat began; None between beats."""
    stopping: bool = False
    cancel_requested: dict[str, float] = field(default_factory=dict)
    """Jobs asked to stop while fetched but not yet running (job id -> monotonic time)."""
    limits: dict[str, int] = field(default_factory=dict)
    """Per-type concurrency limits across all nodes (a task's `concurrency=`)."""
    fetchers: int = 0
    """Fetchers running (one per queue or shard the node serves)."""
    blocked_reads: int = 0
    """Fetchers waiting in a blocking read: their streams were empty, no new work at hand."""

    def lease_ok(self) -> bool:
        """False after the node was frozen (SIGSTOP, a long pause) past its lease: it must
        prove it still owns its entries before taking more."""
        return time.monotonic() < self.lease_valid_until

    def renewed(self, at: float) -> None:
        self.lease_valid_until = at + self.lease_s

    def heartbeat_stuck(self, after_s: float) -> bool:
        """True while one beat has been running for more than `after_s`."""
        began = self.beat_began
        return began is not None and time.monotonic() - began > after_s

    def hold(self, d: Delivery) -> None:
        self.held[(d.queue, d.priority, d.entry_id)] = d

    def drop(self, d: Delivery) -> None:
        self.held.pop((d.queue, d.priority, d.entry_id), None)
