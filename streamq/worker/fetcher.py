"""Fetcher: takes new entries for free slots and hands them to the executors."""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

import anyio
import anyio.lowlevel

from ..errors import StreamqError
from ..job import Delivery
from ..metrics import QUEUE_WAIT_SECONDS
from ..policy import PriorityOrder
from ..shards import queue_of
from ..store import Store
from .channel import JobChannel
from .state import NodeState

log = logging.getLogger("streamq.worker")


class Fetcher:
    """One per queue. A round trip fetches a whole batch (strict or weighted priority
    order, in one script), a second marks it started (and hands back the entries of a
    priority paused meanwhile); when every stream is empty it blocks on XREADGROUP so that
    a new job starts at once.

    At low rates a blocking read returns a job or two, and fetching again with the script
    would find the streams empty: a round trip per job, on Redis's CPU and the node's, for
    nothing. So after a blocking read that returned less than a batch from each stream,
    and all of whose entries started, the next read blocks at once, on the priorities the
    script last found open. The script runs again at the latest `block_ms` after it last
    ran (each read blocks no longer than the time left: a priority resumed meanwhile is
    read again within about `block_ms`), after a full batch (a backlog: strict or weighted
    order again), and after a read that started fewer entries than it returned (paused,
    cancelled or parked meanwhile). Like every blocking read, such a read takes what came
    on all open streams at once: entries that arrived within the same round trip may
    start in arrival order rather than priority order; strict order holds once a stream
    has a backlog (a full batch), which sends the fetcher back to the script."""

    def __init__(
        self,
        store: Store,
        state: NodeState,
        queue: str,
        order: PriorityOrder,
        jobs: JobChannel[Delivery],
        block_ms: int,
        burst: bool = False,
        traced: bool = False,
    ) -> None:
        self.store = store
        self.state = state
        self.queue = queue
        self.order = order
        self.jobs = jobs
        self.block_ms = block_ms
        self.burst = burst
        self.traced = traced
        self._wait_children: dict[str, Any] = {}
        self._open: list[str] = []
        """The priorities the fetch script last found not paused."""
        self._block_until = 0.0
        """Monotonic time until which a read that found little blocks at once."""
        self._burst_checked = False
        """A burst node found nothing held, scheduled or parked after its last fetch."""

    async def run(self) -> None:
        self.state.fetchers += 1
        try:
            await self.store.ensure_groups(self.queue)
            while True:
                if not await self.fetch_once():
                    return
        finally:
            self.state.fetchers -= 1

    async def fetch_once(self) -> bool:
        """Fetch and dispatch one batch; False when a burst node has nothing left to do."""
        free = await self.state.slots.wait_free()
        while not self.state.lease_ok():  # noqa: ASYNC110 - the heartbeat sets a deadline
            await anyio.sleep(0.05)  # frozen past our lease: wait for the heartbeat
        if time.monotonic() < self._block_until:
            deliveries = await self._read_blocking(free)
        else:
            fetched = await self.store.fetch(self.queue, self.order.next(), self.state.name,
                                             free)
            deliveries = fetched.deliveries
            if not deliveries:
                if self.burst:
                    return await self._burst_has_more()
                if not fetched.active_priorities:
                    await anyio.sleep(0.25)  # queue paused
                    return True
                self._open = fetched.active_priorities
                self._block_until = time.monotonic() + self.block_ms / 1000
                deliveries = await self._read_blocking(free)
        if deliveries:
            self._burst_checked = False
            started = await self.dispatch(deliveries)
            if started < len(deliveries):
                self._block_until = 0.0  # some were handed back or skipped: ask the script
        return True

    async def _read_blocking(self, free: int) -> list[Delivery]:
        """Wait for entries on the open priorities (a pause that comes during the read is
        checked by the start script); a full batch from any stream, or none at all, sends
        the next fetch through the script."""
        per_stream = max(1, free // len(self._open))
        # No longer than the window left, so that the script runs within about block_ms.
        block_ms = max(10, min(self.block_ms, int((self._block_until - time.monotonic()) * 1000)))
        self.state.blocked_reads += 1
        try:
            deliveries = await self.store.fetch_blocking(
                self.queue, self._open, self.state.name, per_stream, block_ms
            )
        finally:
            self.state.blocked_reads -= 1
        if not deliveries or max(Counter(d.priority for d in deliveries).values()) >= per_stream:
            self._block_until = 0.0
        return deliveries

    async def dispatch(self, deliveries: list[Delivery]) -> int:
        """Start a fetched batch and hand its runnable jobs to the executors; returns how
        many started."""
        for d in deliveries:
            self.state.hold(d)  # held before start: a crash in between leaves it pending
        try:
            deliveries = await self._admit(deliveries)
            runnable = await self.store.start(self.state.name, deliveries)
        except BaseException:
            # The start may have run with its reply lost: we will never run these, so
            # stop renewing them and let their leases lapse for the reclaimer.
            for d in deliveries:
                self.state.drop(d)
            raise
        for d in deliveries:
            self.state.drop(d)
        await self._release_unstarted(deliveries, runnable)
        if self.traced:
            runnable = await self._with_trace_contexts(runnable)
        now_ms = time.time() * 1000
        for d in runnable:
            self.state.hold(d)  # now with its run number, for fencing and renewal
            self.state.slots.take()
            wait_s = max(0.0, now_ms - d.enqueued_ms) / 1000
            self._queue_wait(d.priority).observe(wait_s)
            self.jobs.send_nowait(d)  # slots bound what the channel holds
        if runnable:
            # Let the woken executors start their handlers before this task prepares and
            # sends the next fetch: one yield per batch, not a round trip's worth of Python
            # between a job's start and its handler.
            await anyio.lowlevel.checkpoint()
        return len(runnable)

    async def _with_trace_contexts(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Each started job with its producer's trace context, for its span's link. A
        failed read costs the batch its links, never its jobs."""
        if not deliveries:
            return deliveries
        try:
            contexts = await self.store.trace_contexts(deliveries)
        except StreamqError as exc:
            log.warning("reading the trace contexts of %d jobs failed: %s", len(deliveries),
                        exc.message)
            return deliveries
        return [replace(d, trace=c) if c else d
                for d, c in zip(deliveries, contexts, strict=True)]

    def _queue_wait(self, priority: str) -> Any:
        child = self._wait_children.get(priority)
        if child is None:
            child = self._wait_children[priority] = QUEUE_WAIT_SECONDS.labels(
                queue_of(self.queue), priority
            )
        return child

    async def _admit(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Jobs of a type at its concurrency limit (across nodes) are parked, still
        `queued`, until a slot frees up; the others each take a slot."""
        limits = self.state.limits
        groups: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
        for d in deliveries:
            if d.type in limits:
                groups[(d.priority, d.type)].append(d)
        if not groups:
            return deliveries
        parked: set[tuple[str, bytes]] = set()
        for (priority, job_type), batch in groups.items():
            flags = await self.store.admit(
                self.queue, priority, job_type, limits[job_type], batch
            )
            parked |= {(d.priority, d.entry_id) for d, ok in zip(batch, flags, strict=True)
                       if not ok}
        for d in deliveries:
            if (d.priority, d.entry_id) in parked:
                self.state.drop(d)
        return [d for d in deliveries if (d.priority, d.entry_id) not in parked]

    async def _release_unstarted(
        self, admitted: list[Delivery], runnable: list[Delivery]
    ) -> None:
        """Slots taken by admitted jobs that did not start (cancelled meanwhile) go back."""
        limits = self.state.limits
        started = {d.job_id for d in runnable}
        idle: dict[str, list[str]] = defaultdict(list)
        for d in admitted:
            if d.type in limits and d.job_id not in started:
                idle[d.type].append(d.job_id)
        for job_type, job_ids in idle.items():
            await self.store.release(self.queue, job_type, limits[job_type], job_ids)

    async def _burst_has_more(self) -> bool:
        """A burst node stops once nothing is queued, running or waiting to be retried.
        Called after a fetch found nothing; a job promoted between that fetch and the
        count of scheduled jobs is in a stream by then, so the node stops only after a
        second empty fetch that came after an empty count."""
        if self.state.held:
            await anyio.sleep(0.05)
        elif await self.store.scheduled_count(self.queue):
            await anyio.sleep(0.05)
        elif self.state.limits and await self.store.parked_count(self.queue, self.state.limits):
            await anyio.sleep(0.05)  # jobs waiting for a slot of their type's limit
        elif self._burst_checked:
            return False
        else:
            self._burst_checked = True  # fetch once more before stopping
            return True
        self._burst_checked = False
        return True
