"""Completer: writes outcomes in batches, one round trip per batch, fenced per attempt."""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, defaultdict

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream

from ..errors import BackendUnavailable
from ..job import Outcome, OutcomeKind
from ..metrics import (
    JOBS_DEAD,
    JOBS_FAILED,
    JOBS_PROCESSED,
    JOBS_RETRIED,
    STALE_OUTCOMES,
)
from ..shards import queue_of
from ..store import Store
from ..store.codes import FinishCode
from ..store.trail import FLUSH_S, Trail
from .joblog import log_outcome
from .state import NodeState

log = logging.getLogger("streamq.worker")



class Completer:
    """Collects outcomes for up to `flush_ms` or `batch_size`, then persists them.

    A failed write is retried until it lands (Redis may be restarting); outcomes are never
    dropped while the node lives. If the node dies first, the entries stay pending and the
    reclaimer gives them back: at-least-once, never lost.
    """

    def __init__(self, store: Store, state: NodeState, batch_size: int, flush_ms: float) -> None:
        self.store = store
        self.state = state
        self.batch_size = batch_size
        self.flush_s = flush_ms / 1000
        self.stale = 0
        self._last_warning = -1e9
        self.trail = Trail(store)

    async def run(self, outcomes: MemoryObjectReceiveStream[Outcome]) -> None:
        # The node owns and closes the stream, so a restarted completer can still read it.
        while True:
            batch = await self._collect(outcomes)
            if not batch:
                with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                    try:
                        await self.trail.flush()  # the node stops: counts still in memory
                    except Exception as exc:
                        log.warning("writing the console counters failed (%s)", exc)
                return
            await self.persist(batch)

    async def _first(self, outcomes: MemoryObjectReceiveStream[Outcome]) -> Outcome:
        """The next outcome; while none comes for a second, the console's counters that
        wait in memory are written."""
        while True:
            with anyio.move_on_after(FLUSH_S if self.trail.pending else math.inf):
                return await outcomes.receive()
            try:
                await self.trail.flush()
            except Exception as exc:
                log.warning("writing the console counters failed (%s)", exc)

    async def _collect(self, outcomes: MemoryObjectReceiveStream[Outcome]) -> list[Outcome]:
        """A batch: the first outcome, those already waiting, and those that come within
        the flush time. When no attempt is running and every fetcher waits in a blocking
        read (low rates: no new work at hand), no outcome can come soon, so the batch is written
        at once: waiting would cost every job a timer and a wake-up of the node. Under a
        backlog the wait stays: the fetcher's next read and start then reach Redis before
        this write, and the slots refill sooner (writing at once drained about 15 % slower)."""
        try:
            batch = [await self._first(outcomes)]
        except anyio.EndOfStream:
            return []
        if not self._take_waiting(outcomes, batch):
            return batch
        if await self._nothing_coming():
            self._take_waiting(outcomes, batch)
            return batch
        with anyio.move_on_after(self.flush_s):
            while len(batch) < self.batch_size:
                try:
                    batch.append(await outcomes.receive())
                except anyio.EndOfStream:
                    break
                if not self._take_waiting(outcomes, batch) or await self._nothing_coming():
                    break
        return batch

    async def _nothing_coming(self) -> bool:
        """No attempt is running and every fetcher waits for new entries."""
        state = self.state
        if state.slots.busy or not state.fetchers:
            return False
        if state.blocked_reads < state.fetchers:
            await anyio.lowlevel.checkpoint()  # a fetcher about to block gets there first
        return not state.slots.busy and state.blocked_reads >= state.fetchers

    def _take_waiting(self, outcomes: MemoryObjectReceiveStream[Outcome],
                      batch: list[Outcome]) -> bool:
        """Add the outcomes already waiting, up to a full batch; False when the batch is
        full or the stream has ended."""
        while len(batch) < self.batch_size:
            try:
                batch.append(outcomes.receive_nowait())
            except anyio.WouldBlock:
                return True
            except anyio.EndOfStream:
                return False
        return False

    async def persist(self, batch: list[Outcome]) -> None:
        entries = [(o.delivery.queue, o.delivery.priority, o.delivery.entry_id) for o in batch]
        self.state.persisting.update(entries)
        try:
            await self._persist(batch)
        finally:
            self.state.persisting.difference_update(entries)

    async def _persist(self, batch: list[Outcome]) -> None:
        delay = 0.05
        while True:
            try:
                codes = await self.store.finish(batch)
                break
            except BackendUnavailable as exc:
                now = time.monotonic()
                if now - self._last_warning > 10:  # an outage is logged, not each retry
                    log.warning("writing %d outcomes failed (%s); retrying", len(batch), exc)
                    self._last_warning = now
                await anyio.sleep(delay)
                delay = min(2.0, delay * 2)
        applied: Counter[tuple[str, str, OutcomeKind]] = Counter()
        for outcome, code in zip(batch, codes, strict=True):
            self.state.drop(outcome.delivery)
            if self._log(outcome, code):
                d = outcome.delivery
                applied[(queue_of(d.queue), d.type, outcome.kind)] += 1
        _count_applied(applied)
        await self._release_slots(batch, codes)
        await self._leave_trail(batch, codes)

    async def _leave_trail(self, batch: list[Outcome], codes: list[FinishCode]) -> None:
        """Per-minute counters and kept attempts for the console: diagnostic figures, so a
        failed write is only logged (the outcomes themselves are already persisted)."""
        try:
            await self.trail.record(batch, codes, self.state.name, flush=False)
        except Exception as exc:
            log.warning("writing the console counters of %d outcomes failed (%s)",
                        len(batch), exc)

    async def _release_slots(self, batch: list[Outcome], codes: list[FinishCode]) -> None:
        """Free the concurrency slots of limited types whose attempt ended here (not of
        fenced-off ones: a newer attempt holds that slot). A failed release is only logged:
        the slot's lease expires and the limiter gives it back."""
        limits = self.state.limits
        if not limits:
            return
        ended: dict[tuple[str, str], list[str]] = defaultdict(list)
        for outcome, code in zip(batch, codes, strict=True):
            d = outcome.delivery
            if d.type in limits and code is not FinishCode.STALE:
                ended[(d.queue, d.type)].append(d.job_id)
        for (queue, job_type), job_ids in ended.items():
            try:
                await self.store.release(queue, job_type, limits[job_type], job_ids)
            except Exception as exc:
                log.warning("releasing %d %s slots failed (%s); their leases will expire",
                            len(job_ids), job_type, exc)

    def _log(self, o: Outcome, code: FinishCode) -> bool:
        """Count a fenced-off outcome and log an applied failure; True when applied."""
        d = o.delivery
        if code is FinishCode.STALE:
            self.stale += 1
            STALE_OUTCOMES.labels(queue_of(d.queue)).inc()
            log.info("outcome of job %s run %d fenced off: a newer attempt owns it", d.job_id,
                     d.run, extra={"job_id": d.job_id, "task": d.type, "queue": d.queue})
            return False
        if code is not FinishCode.APPLIED:
            return False
        log_outcome(o)
        return True


def _count_applied(applied: Counter[tuple[str, str, OutcomeKind]]) -> None:
    """The outcome counters, one increment per (queue, task, kind) of a batch rather than
    one label lookup and increment per job."""
    for (queue, task, kind), n in applied.items():
        JOBS_PROCESSED.labels(queue, task, kind.value).inc(n)
        if kind in (OutcomeKind.RETRY, OutcomeKind.FAILED):
            JOBS_FAILED.labels(queue, task).inc(n)
        if kind is OutcomeKind.RETRY:
            JOBS_RETRIED.labels(queue, task).inc(n)
        elif kind is OutcomeKind.FAILED:
            JOBS_DEAD.labels(queue, task).inc(n)
