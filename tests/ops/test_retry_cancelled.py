"""Retrying a cancelled job undoes the cancel: a delayed job cancelled before its time waits
for that time again; one whose time has passed, or that had started, runs at once."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio

from streamq import App, JobStatus, Settings
from tests.support.nodes import running_node


async def test_a_cancelled_delayed_job_runs_at_its_original_time(
    settings_for: Callable[..., Settings],
) -> None:
    async with App(settings_for()) as app:
        started: list[float] = []

        @app.task("note", max_retries=0)
        async def note() -> None:
            started.append(time.time())

        job_id = await app.enqueue("note", delay=1.5)
        due = (await app.get_job(job_id)).scheduled_at
        assert due is not None
        await app.cancel(job_id)
        retried = await app.retry(job_id)
        assert retried.status is JobStatus.SCHEDULED and retried.scheduled_at == due
        async with running_node(app):
            await app.wait_for(job_id, timeout_s=10)
        assert len(started) == 1 and started[0] >= due.timestamp() - 0.05


async def test_past_its_time_or_started_it_runs_at_once(
    settings_for: Callable[..., Settings],
) -> None:
    async with App(settings_for()) as app:

        @app.task("wait", max_retries=0)
        async def wait(seconds: float) -> None:
            await anyio.sleep(seconds)

        late = await app.enqueue("wait", {"seconds": 0}, delay=0.2)
        await app.cancel(late)
        await anyio.sleep(0.3)
        assert (await app.retry(late)).status is JobStatus.QUEUED
        async with running_node(app):
            ran = await app.enqueue("wait", {"seconds": 5})
            while (await app.get_job(ran)).status is not JobStatus.PROCESSING:
                await anyio.sleep(0.02)
            await app.cancel(ran)
            assert (await app.wait_for(ran, timeout_s=5)).status is JobStatus.CANCELLED
            # The running node may start it again before the record is read back.
            assert (await app.retry(ran)).status in (JobStatus.QUEUED, JobStatus.PROCESSING)
            await app.cancel(ran)
