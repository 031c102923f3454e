"""The dead-letter queue: list by filter, requeue, delete and purge.

An entry of `streamq:{q}:dead` is live while its job is still `failed` from that very
failure (the record's `finished` equals the entry's `time`); entries of jobs requeued or
expired since are stale and never listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ..errors import InvalidTransition, JobNotFound
from ..fingerprint import error_fingerprint
from ..job import DeadLetter, DeadLetterPage, Job, JobStatus
from ..requests import time_window
from ..shards import Layout, split
from ..store import DeadEntry, Store
from ..store.codes import DlqDeleteCode, RequeueCode
from . import queues_in_scope
from .pagination import (
    MAX_PAGE,
    Candidate,
    Cursor,
    Page,
    Position,
    check_limit,
    chunk_size,
    entry_key,
    paginate,
    scan_budget,
)

PURGE_BATCH = 500


def dead_letter(name: str, entry: DeadEntry) -> DeadLetter:
    """The entry as read from the dead-letter stream of queue or shard `name`."""
    queue, shard = split(name)
    return DeadLetter(
        job_id=entry.job_id,
        queue=queue,
        shard=shard,
        type=entry.type,
        reason=entry.reason,
        error_type=entry.error_type,
        error=entry.error,
        fingerprint=error_fingerprint(entry.error_type, entry.error),
        attempt=entry.attempt,
        failed_at=datetime.fromtimestamp(entry.time_ms / 1000, tz=UTC),
        entry_id=entry.entry_id,
    )


class Filter:
    """Which dead letters an operation covers."""

    def __init__(
        self,
        layout: Layout,
        known: Sequence[str],
        queue: str | None = None,
        type: str | None = None,
        fingerprint: str | None = None,
        since: datetime | float | None = None,
        until: datetime | float | None = None,
    ) -> None:
        self.queues = layout.expand(queues_in_scope(known, queue))
        """Every shard of every queue in scope: one cursor pages them all."""
        self.type, self.fingerprint = type, fingerprint
        self.since_ms, self.until_ms = time_window(since, until)
        self.as_dict = {"queue": queue, "type": type, "fingerprint": fingerprint,
                        "since": self.since_ms, "until": self.until_ms}

    def keeps(self, letter: DeadLetter) -> bool:
        return (self.type is None or letter.type == self.type) and (
            self.fingerprint is None or letter.fingerprint == self.fingerprint
        )


async def list_page(
    store: Store, which: Filter, limit: int = 50, cursor: str | None = None
) -> DeadLetterPage:
    """Dead-letter entries of jobs still failed, newest first."""
    check_limit(limit)
    state = (
        Cursor.decode(cursor, which.as_dict, which.queues) if cursor is not None
        else Cursor(which.as_dict, dict.fromkeys(which.queues), "dead")
    )
    page = await _page(store, which, state.positions, limit)
    next_cursor = None if page.done else Cursor(which.as_dict, page.positions, "dead").encode()
    return DeadLetterPage(entries=page.items, next_cursor=next_cursor)


async def _page(
    store: Store, which: Filter, positions: dict[str, Position], limit: int
) -> Page[DeadLetter]:
    async def fetch(q: str, after: Position, n: int) -> list[Candidate[DeadEntry]]:
        before = f"{after[0]}-{after[1]}" if isinstance(after, list) else None
        rows = await store.dead_page(q, before, which.since_ms, which.until_ms, n)
        out = []
        for entry in rows:
            ms, seq = entry_key(entry.entry_id)
            out.append(Candidate((ms, seq, q), q, [ms, seq], entry))
        return out

    async def evaluate(batch: list[Candidate[DeadEntry]]) -> list[DeadLetter | None]:
        out: dict[int, DeadLetter | None] = {}
        for q in dict.fromkeys(c.queue for c in batch):
            mine = [(i, c.item) for i, c in enumerate(batch) if c.queue == q]
            marks = await store.failure_marks(q, [e.job_id for _, e in mine])
            for (i, entry), (st, fin) in zip(mine, marks, strict=True):
                letter = dead_letter(q, entry)
                live = st == JobStatus.FAILED and fin == str(entry.time_ms)
                out[i] = letter if live and which.keeps(letter) else None
        return [out[i] for i in range(len(batch))]

    return await paginate(
        positions, fetch, evaluate, limit, scan_budget(limit), chunk_size(limit)
    )


async def requeue_matching(store: Store, which: Filter) -> int:
    """Requeue every dead-lettered job that matches; returns how many were requeued."""
    positions: dict[str, Position] = dict.fromkeys(which.queues)
    total = 0
    while True:
        page = await _page(store, which, positions, MAX_PAGE)
        for q in dict.fromkeys(d.shard_queue for d in page.items):
            pairs = [(d.job_id, d.entry_id) for d in page.items if d.shard_queue == q]
            codes = await store.requeue_many(q, pairs)
            total += codes.count(RequeueCode.REQUEUED)
        if page.done:
            return total
        positions = page.positions


async def live_entry(store: Store, job: Job) -> str | None:
    """The dead-letter entry of a failed job's current failure, if it can be found."""
    _, entry, _ = await _live_dead_entry(store, job)
    return entry


async def _live_dead_entry(store: Store, job: Job) -> tuple[str | None, str | None, str | None]:
    """(status, live dead-letter entry id, failure time) as the record says now."""
    [(status, finished)] = await store.failure_marks(job.shard_queue, [job.id])
    if status != JobStatus.FAILED or not finished:
        return status, None, finished
    entry = await store.find_dead_entry(job.shard_queue, job.id, int(finished))
    return status, entry, finished


async def _dead_job(store: Store, job: Job) -> tuple[str, str]:
    """A failed job's live dead-letter entry id and failure time, or JobNotFound."""
    status, entry, finished = await _live_dead_entry(store, job)
    if entry is None or finished is None:
        raise JobNotFound(
            f"job {job.id} is {status}, not in the dead-letter queue", job_id=job.id
        )
    return entry, finished


async def retry_one(store: Store, job: Job) -> None:
    """Requeue one dead-lettered job under the same id with a fresh attempt budget."""
    entry, _ = await _dead_job(store, job)
    try:
        await store.requeue(job.shard_queue, job.id, [entry.encode()])
    except InvalidTransition as exc:
        raise JobNotFound(
            f"job {job.id} is {exc.detail.get('status')}, not in the dead-letter queue",
            job_id=job.id,
        ) from None


async def delete_one(store: Store, job: Job) -> None:
    """Remove a job's dead-letter entry and forget the job; JobNotFound if not there."""
    entry, finished = await _dead_job(store, job)
    codes = await store.dlq_delete(job.shard_queue, [(entry, job.id, job.type, finished)])
    if codes != [DlqDeleteCode.DELETED]:
        raise JobNotFound(f"job {job.id} is not in the dead-letter queue", job_id=job.id)


async def purge(store: Store, queues: Sequence[str]) -> int:
    """Remove every dead-letter entry of the queues (or shards) and forget their jobs;
    returns how many failed jobs were removed."""
    total = 0
    for q in queues:
        last = await store.dead_last_id(q)
        after = "-"
        while last is not None:
            rows = await store.dead_range(q, after, last, PURGE_BATCH)
            if not rows:
                break
            codes = await store.dlq_delete(
                q, [(e.entry_id, e.job_id, e.type, str(e.time_ms)) for e in rows]
            )
            total += codes.count(DlqDeleteCode.DELETED)
            after = rows[-1].entry_id
    return total
