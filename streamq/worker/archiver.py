"""Archiver: writes a queue's terminal jobs to the history archive; every node runs one per
queue, and they share the work through the archive stream's consumer group.

A batch goes: read entries (this consumer's unacknowledged ones first after a restart,
then entries idle under a dead archiver, then new ones) -> one INSERT ... ON CONFLICT DO
NOTHING in PostgreSQL -> XACK + XDEL in one MULTI. A crash before the MULTI leaves the
entries pending: they are written again (the insert keeps the row already there); after
it, they are archived. PostgreSQL down or slow only delays the archive: the batch is
retried with backoff while jobs keep finishing into the stream.
"""

from __future__ import annotations

import logging
import time

import anyio

from ..errors import HistoryUnavailable
from ..history.archive import HistoryArchive
from ..history.health import ArchiveHealth
from ..history.metrics import DROPPED, LAG_JOBS, LAG_SECONDS, ROWS_WRITTEN, WRITE_ERRORS
from ..history.rows import Row, to_row
from ..shards import queue_of
from ..store import ArchiveEntry, Store

log = logging.getLogger("streamq.history")

CLAIM_INTERVAL_S = 5.0
LINGER_S = 0.1
"""After a batch smaller than the batch size, wait this long before reading again, so that
a steady flow is archived in fuller batches: fewer round trips and transactions per job,
for at most this much more lag."""
REPORT_INTERVAL_S = 1.0
PRUNE_IDLE_MS = 3_600_000


class Archiver:
    def __init__(
        self,
        store: Store,
        archive: HistoryArchive,
        health: ArchiveHealth,
        queue: str,
        consumer: str,
        batch_size: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        linger_s: float = LINGER_S,
    ) -> None:
        self.store = store
        self.archive = archive
        self.health = health
        self.queue = queue
        self.consumer = consumer
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.linger_s = linger_s
        self._own_first = True
        self._next_claim = 0.0
        self._next_report = 0.0
        self._last_complaint = 0.0

    async def run(self) -> None:
        await self.store.archive_ensure_group(self.queue)
        self._own_first = True  # a restarted actor first finishes what it had read
        while True:
            if 0 < await self.archive_once() < self.batch_size:
                await anyio.sleep(self.linger_s)

    async def archive_once(self) -> int:
        """Read one batch, write it, acknowledge it; returns the entries archived."""
        entries = await self._next_batch()
        if entries:
            await self._write(entries)
            await self.store.archive_done(self.queue, [e.entry_id for e in entries])
        await self._report()
        return len(entries)

    async def _next_batch(self) -> list[ArchiveEntry]:
        if self._own_first:
            own = await self.store.archive_read(
                self.queue, self.consumer, self.batch_size, None, own=True
            )
            self._own_first = len(own) == self.batch_size
            if own:
                return own
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + CLAIM_INTERVAL_S
            claimed = await self.store.archive_claim(
                self.queue, self.consumer, self.claim_idle_ms, self.batch_size
            )
            if claimed.gone:
                DROPPED.labels(queue_of(self.queue)).inc(len(claimed.gone))
                log.error("history: %d terminal jobs of %s were trimmed from the archive "
                          "stream before they were archived", len(claimed.gone), self.queue)
                await self.store.archive_done(self.queue, claimed.gone)
            await self.store.archive_prune_consumers(self.queue, PRUNE_IDLE_MS)
            if len(claimed.entries) == self.batch_size:
                self._next_claim = 0.0  # more may wait: take them before new entries
            if claimed.entries:
                return claimed.entries
        return await self.store.archive_read(
            self.queue, self.consumer, self.batch_size, self.block_ms
        )

    async def _write(self, entries: list[ArchiveEntry]) -> None:
        """Write until PostgreSQL takes the batch, backing off up to 5 s between tries."""
        rows = self._rows(entries)
        delay = 0.1
        while True:
            try:
                written = await self.archive.write(rows)
            except HistoryUnavailable as exc:
                WRITE_ERRORS.labels(queue_of(self.queue)).inc()
                self.health.failed(str(exc))
                self._complain(exc)
                await anyio.sleep(delay)
                delay = min(5.0, delay * 2)
                continue
            self.health.succeeded()
            ROWS_WRITTEN.labels(queue_of(self.queue)).inc(written)
            return

    def _rows(self, entries: list[ArchiveEntry]) -> list[Row]:
        rows = []
        for entry in entries:
            try:
                rows.append(to_row(queue_of(entry.queue), entry.fields))
            except (ValueError, UnicodeError) as exc:  # never a reason to stop the archive
                DROPPED.labels(queue_of(self.queue)).inc()
                log.error("history: archive entry %s of %s is unreadable (%s); dropped",
                          entry.entry_id, self.queue, exc)
        return rows

    def _complain(self, exc: HistoryUnavailable) -> None:
        now = time.monotonic()
        if now - self._last_complaint > 10:
            self._last_complaint = now
            log.warning("history: %s; archiving of %s waits and retries", exc, self.queue)

    async def _report(self) -> None:
        """Lag gauges, at most once a second: the stream holds exactly the unarchived jobs."""
        now = time.monotonic()
        if now < self._next_report:
            return
        self._next_report = now + REPORT_INTERVAL_S
        backlog = await self.store.archive_backlog(self.queue)
        LAG_JOBS.labels(queue_of(self.queue)).set(backlog.jobs)
        LAG_SECONDS.labels(queue_of(self.queue)).set(backlog.lag_s)
