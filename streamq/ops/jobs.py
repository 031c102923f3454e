"""One job at a time: look up, cancel, retry, wait for the end."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from ..errors import JobNotFound
from ..job import Job, JobStatus
from ..store import Store
from . import dlq


async def get_job(store: Store, queues: Sequence[str], job_id: str) -> Job:
    """The job's record; JobNotFound when none (or its retention expired)."""
    job = await store.get_job(queues, job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id!r}", job_id=job_id)
    return job


async def cancel(store: Store, queues: Sequence[str], job_id: str) -> Job:
    """Cancel a job that has not finished; a running handler is stopped on its node."""
    job = await get_job(store, queues, job_id)
    await store.cancel(job.queue, job_id)
    return await get_job(store, [job.queue], job_id)


async def retry(store: Store, queues: Sequence[str], job_id: str) -> Job:
    """Run a failed or cancelled job again under the same id with a fresh budget; a failed
    job leaves the dead-letter queue too."""
    job = await get_job(store, queues, job_id)
    entry = await dlq.live_entry(store, job) if job.status == JobStatus.FAILED else None
    await store.requeue(job.queue, job_id, [] if entry is None else [entry.encode()])
    return await get_job(store, [job.queue], job_id)


async def wait_for(
    store: Store, queues: Sequence[str], job_id: str, timeout_s: float, poll_s: float
) -> Job:
    """Poll until the job reaches a terminal state; TimeoutError after timeout_s."""
    with anyio.fail_after(timeout_s):
        while True:
            job = await get_job(store, queues, job_id)
            if job.status.terminal:
                return job
            await anyio.sleep(poll_s)
