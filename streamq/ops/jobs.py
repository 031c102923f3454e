"""One job at a time: look up, cancel, retry, wait for the end."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from ..errors import JobNotFound
from ..job import Job, JobStatus
from ..shards import id_shard, shard_name
from ..store import Store
from . import dlq


async def get_job(store: Store, queues: Sequence[str], job_id: str) -> Job:
    """The job's record; JobNotFound when none (or its retention expired). The id names
    its shard, so each queue costs one read, however many shards it has."""
    shard = id_shard(job_id)
    job = await store.get_job([shard_name(q, shard) for q in queues], job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id!r}", job_id=job_id)
    return job


async def cancel(store: Store, queues: Sequence[str], job_id: str) -> Job:
    """Cancel a job that has not finished; a running handler is stopped on its node."""
    job = await get_job(store, queues, job_id)
    await store.cancel(job.shard_queue, job_id)
    return await get_job(store, [job.queue], job_id)


async def retry(store: Store, queues: Sequence[str], job_id: str) -> Job:
    """Run a failed or cancelled job again under the same id with a fresh budget; a failed
    job leaves the dead-letter queue too."""
    job = await get_job(store, queues, job_id)
    entry = await dlq.live_entry(store, job) if job.status == JobStatus.FAILED else None
    await store.requeue(job.shard_queue, job_id, [] if entry is None else [entry.encode()])
    return await get_job(store, [job.queue], job_id)


async def wait_for(
    store: Store, queues: Sequence[str], job_id: str, timeout_s: float, block_ms: int
) -> Job:
    """The job once it reaches a terminal state; TimeoutError after timeout_s.

    Woken by the job's own events, not by polling: a blocking XREAD on its queue's events
    stream returns as soon as a state change is written. The stream position is taken
    before the record is read, so an end written in between is still seen. The record is
    read again when an event of the job arrives, after a quiet `block_ms`, and after a
    full batch (the capped stream may have been trimmed past us; an entry may hold several
    events, so a full read returns at least `EVENT_BATCH`). With events turned off
    (`events_max_entries = 0`) it polls, backing off from 50 ms to 1 s."""
    with anyio.fail_after(timeout_s):
        job = await get_job(store, queues, job_id)
        if job.status.terminal:
            return job
        if store.settings.events_max_entries == 0:
            return await _poll(store, job)
        after = await store.events_last_ids([job.shard_queue])
        while True:
            job = await get_job(store, [job.queue], job_id)
            if job.status.terminal:
                return job
            while True:
                events = await store.read_events(after, block_ms, EVENT_BATCH)
                for event in events:
                    after[event.shard_queue] = event.id
                if (not events or len(events) >= EVENT_BATCH
                        or any(e.job_id == job_id for e in events)):
                    break


EVENT_BATCH = 500


async def _poll(store: Store, job: Job) -> Job:
    delay = 0.05
    while not job.status.terminal:
        await anyio.sleep(delay)
        delay = min(1.0, delay * 2)
        job = await get_job(store, [job.queue], job.id)
    return job
