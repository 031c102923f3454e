"""History operations shared by App, the API, the CLI and the console: a search page, and
one job from Redis or else from the archive."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import HistoryUnavailable, JobNotFound
from ..job import Job
from ..ops import jobs
from ..store import Store
from .archive import HistoryArchive
from .query import HistoryFilter, HistoryPage, check_page_limit, decode_cursor, encode_cursor


async def get_job(
    store: Store, queues: Sequence[str], archive: HistoryArchive, job_id: str
) -> Job:
    """The job's record in Redis; once Redis has forgotten it, its newest archived state;
    JobNotFound when neither has it."""
    try:
        return await jobs.get_job(store, queues, job_id)
    except JobNotFound:
        archived = await archive.get(job_id)
        if archived is None:
            raise
        return archived


async def history_page(
    archive: HistoryArchive | None, flt: HistoryFilter, limit: int = 50,
    cursor: str | None = None,
) -> HistoryPage:
    """One page of archived jobs matching `flt`, newest finished first."""
    check_page_limit(limit)
    if archive is None:
        raise HistoryUnavailable("no history archive is configured (STREAMQ_HISTORY_URL)")
    after = decode_cursor(cursor, flt) if cursor is not None else None
    jobs, last = await archive.search(flt, after, limit)
    return HistoryPage(jobs=jobs, next_cursor=None if last is None else encode_cursor(flt, last))
