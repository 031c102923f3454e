"""Listing jobs newest first, one keyset page at a time, over every queue in scope.

No filter: every job by creation time (index:all). `type`: that type's jobs by creation
time. `status`: by the time they entered that status. Both: the smaller of the two
indices, filtered. Items are checked against their record when read, so a job is never
listed twice, and one that keeps its status is never skipped; entries whose record is
gone are trimmed as they are met (read repair).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ValidationError
from ..job import Job, JobPage
from ..keys import STATUSES, Index
from ..requests import MAX_TYPE_LEN
from ..store import Store
from . import shards_in_scope
from .pagination import (
    Candidate,
    Cursor,
    Position,
    check_limit,
    chunk_size,
    paginate,
    scan_budget,
)

PREVIEW_BYTES = 4096
"""A payload or result larger than this is left out of listing pages (`payload_omitted`,
`result_omitted`), so a page of `limit` jobs stays bounded whatever the jobs weigh;
`get_job` returns them in full."""


async def list_jobs(
    store: Store,
    known: Sequence[str],
    status: str | None = None,
    type: str | None = None,
    queue: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> JobPage:
    """One page of jobs, newest first; pass `next_cursor` back for the next one."""
    if status is not None and status not in STATUSES:
        raise ValidationError(
            f"unknown status {status!r}; use one of {', '.join(STATUSES)}", field="status"
        )
    check_limit(limit)
    if type is not None and (not isinstance(type, str) or not 0 < len(type) <= MAX_TYPE_LEN):
        raise ValidationError(f"type must be 1 to {MAX_TYPE_LEN} characters", field="type")
    queues = shards_in_scope(store.settings.layout, known, queue)
    filters = {"status": status, "type": type, "queue": queue}
    if cursor is not None:
        state = Cursor.decode(cursor, filters, queues)
    else:
        state = Cursor(filters, dict.fromkeys(queues), await _kind(store, queues, status, type))
    index = _index(state.kind, status, type)

    async def fetch(q: str, after: Position, n: int) -> list[Candidate[str]]:
        key = (after[0], after[1]) if isinstance(after, list) else None
        rows = await store.index_page(q, index, key, n)
        return [Candidate((s, j), q, [s, j], j) for s, j in rows]

    async def evaluate(batch: list[Candidate[str]]) -> list[Job | None]:
        out: dict[int, Job | None] = {}
        for q in dict.fromkeys(c.queue for c in batch):
            mine = [(i, c.item) for i, c in enumerate(batch) if c.queue == q]
            jobs = await store.job_summaries(q, [j for _, j in mine], PREVIEW_BYTES)
            for (i, _), job in zip(mine, jobs, strict=True):
                keep = job is not None and (status is None or job.status == status) and (
                    type is None or job.type == type
                )
                out[i] = job if keep else None
            gone = [j for (_, j), job in zip(mine, jobs, strict=True) if job is None]
            await store.trim_index(q, index, gone)
        return [out[i] for i in range(len(batch))]

    page = await paginate(
        state.positions, fetch, evaluate, limit, scan_budget(limit), chunk_size(limit)
    )
    next_cursor = None if page.done else Cursor(filters, page.positions, state.kind).encode()
    return JobPage(jobs=page.items, next_cursor=next_cursor)


def _index(kind: str, status: str | None, type: str | None) -> Index:
    if kind == "status" and status is not None:
        return Index("status", status)
    if kind == "type" and type is not None:
        return Index("type", type)
    if kind not in ("all", "status", "type"):
        raise ValidationError("cursor is damaged", field="cursor")
    return Index("all")


async def _kind(store: Store, queues: list[str], status: str | None, type: str | None) -> str:
    """Which index a listing walks: the smaller one when both filters are given."""
    if status is None:
        return "all" if type is None else "type"
    if type is None:
        return "status"
    sizes = await store.index_sizes(
        [*((q, Index("status", status)) for q in queues),
         *((q, Index("type", type)) for q in queues)]
    )
    by_status, by_type = sum(sizes[: len(queues)]), sum(sizes[len(queues) :])
    return "status" if by_status <= by_type else "type"
