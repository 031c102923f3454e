"""`wait_for` is woken by the job's own events, not by polling: it returns right after the
job ends, and reads the record a handful of times however long the job runs."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, JobNotFound, JobStatus, Settings
from tests.support.nodes import running_node


def sleeper(app: App) -> None:
    @app.task("sleep", max_retries=0)
    async def sleep(seconds: float) -> float:
        await anyio.sleep(seconds)
        return seconds


async def hgetall_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_hgetall", {}).get("calls", 0))


async def test_woken_by_the_end_without_polling(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    async with App(settings_for(redis_timeout_s=5.0)) as app:  # events read in 1 s blocks
        sleeper(app)
        job_id = await app.enqueue("sleep", {"seconds": 1.5})
        async with running_node(app):
            await redis_client.config_resetstat()
            job = await app.wait_for(job_id, timeout_s=10)
            returned = time.time()
            reads = await hgetall_calls(redis_client)
    assert job.status is JobStatus.SUCCEEDED and job.finished_at is not None
    assert returned - job.finished_at.timestamp() < 0.3  # woken at the end, not a block later
    assert reads <= 6, reads  # polling every 20 ms would have read the record ~75 times


async def test_already_finished_unknown_and_too_slow(
    settings_for: Callable[..., Settings],
) -> None:
    async with App(settings_for()) as app:
        sleeper(app)
        quick = await app.enqueue("sleep", {"seconds": 0})
        slow = await app.enqueue("sleep", {"seconds": 5})
        async with running_node(app):
            await app.wait_for(quick, timeout_s=5)
            assert (await app.wait_for(quick, timeout_s=0.5)).status is JobStatus.SUCCEEDED
            with pytest.raises(TimeoutError):
                await app.wait_for(slow, timeout_s=0.3)
            with pytest.raises(JobNotFound):
                await app.wait_for("no-such-job", timeout_s=1)
            await app.cancel(slow)
            assert (await app.wait_for(slow, timeout_s=5)).status is JobStatus.CANCELLED


async def test_without_events_it_polls_with_backoff(
    settings_for: Callable[..., Settings],
) -> None:
    async with App(settings_for(events_max_entries=0)) as app:
        sleeper(app)
        job_id = await app.enqueue("sleep", {"seconds": 0.2})
        async with running_node(app):
            assert (await app.wait_for(job_id, timeout_s=5)).status is JobStatus.SUCCEEDED
