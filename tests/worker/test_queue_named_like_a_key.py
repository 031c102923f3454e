"""A queue whose name contains `:job:` (valid under the queue-name pattern) runs jobs through
every state with the right ids in its indices, events and dead letters: the scripts take
job ids as arguments and never parse them out of key names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from redis.asyncio import Redis

from streamq import App, Event, JobStatus, Settings
from streamq.keys import PRIORITIES, STATUSES, QueueKeys, check_queue_name
from tests.support.nodes import running_node

QUEUE = "a:job:b"
K = QueueKeys("streamq", QUEUE)


def text(value: bytes) -> str:
    return value.decode()


async def members(redis: Redis, key: str) -> set[str]:
    return {text(m) for m in await redis.zrange(key, 0, -1)}


async def transitions(redis: Redis) -> dict[str, list[tuple[str, str]]]:
    """(from, to) of every event, by the job the event names."""
    seen: dict[str, list[tuple[str, str]]] = {}
    entries: Any = await redis.xrange(K.events)
    for entry_id, fields in entries:
        for e in Event.from_entry(QUEUE, entry_id, fields):
            seen.setdefault(e.job_id, []).append((e.from_status or "", e.to_status))
    return seen


async def dead_jobs(redis: Redis) -> list[str]:
    entries: Any = await redis.xrange(K.dead)
    return [text(fields[b"job"]) for _, fields in entries]


async def test_a_queue_named_a_job_b_keeps_job_ids_straight(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    assert check_queue_name(QUEUE) == QUEUE
    app = App(settings_for(queue=QUEUE))
    flaky_runs: list[int] = []
    doomed_may_pass = anyio.Event()
    slow_started = anyio.Event()

    @app.task("flaky", max_retries=2, retry_backoff=0.05)
    async def flaky() -> str:
        flaky_runs.append(1)
        if len(flaky_runs) == 1:
            raise ConnectionError("first attempt fails")
        return "ok"

    @app.task("doomed", max_retries=0)
    async def doomed() -> str:
        if not doomed_may_pass.is_set():
            raise ValueError("not yet")
        return "passed"

    @app.task("slow")
    async def slow() -> None:
        slow_started.set()
        await anyio.sleep(30)

    try:
        later = await app.enqueue("flaky", delay=60)
        flaky_id = await app.enqueue("flaky")
        doomed_id = await app.enqueue("doomed")
        hopeless = await app.enqueue("doomed")
        slow_id = await app.enqueue("slow")
        assert (await app.cancel(later)).status is JobStatus.CANCELLED
        async with running_node(app, concurrency=4):
            assert (await app.wait_for(flaky_id, timeout_s=10)).status is JobStatus.SUCCEEDED
            for job_id in (doomed_id, hopeless):
                assert (await app.wait_for(job_id, timeout_s=10)).status is JobStatus.FAILED
            assert sorted(await dead_jobs(redis_client)) == sorted([doomed_id, hopeless])
            assert await members(redis_client, K.index("failed")) == {doomed_id, hopeless}

            failed = await app.list_jobs(status="failed", type="doomed", queue=QUEUE)
            assert {j.id for j in failed.jobs} == {doomed_id, hopeless}
            await app.dlq_delete(hopeless)
            doomed_may_pass.set()
            # The running node may start (or finish) it before the record is read back.
            assert (await app.dlq_retry(doomed_id)).status in (
                JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.SUCCEEDED)
            assert await dead_jobs(redis_client) == []
            assert (await app.wait_for(doomed_id, timeout_s=10)).status is JobStatus.SUCCEEDED

            with anyio.fail_after(10):
                await slow_started.wait()
            assert (await app.cancel(slow_id)).status is JobStatus.CANCELLED
            assert (await app.wait_for(slow_id, timeout_s=10)).status is JobStatus.CANCELLED

        ids = {later, flaky_id, doomed_id, slow_id}
        assert await members(redis_client, K.index("succeeded")) == {flaky_id, doomed_id}
        assert await members(redis_client, K.index("cancelled")) == {later, slow_id}
        for status in set(STATUSES) - {"succeeded", "cancelled"}:
            assert await members(redis_client, K.index(status)) == set(), status
        assert await members(redis_client, K.scheduled) == set()
        assert await members(redis_client, K.index_all) == ids
        assert await members(redis_client, K.index_type("flaky")) == {later, flaky_id}
        assert await members(redis_client, K.index_type("doomed")) == {doomed_id}
        assert not await redis_client.exists(K.job(hopeless))
        assert sum([await redis_client.xlen(K.stream(p)) for p in PRIORITIES]) == 0

        assert await transitions(redis_client) == {
            later: [("", "scheduled"), ("scheduled", "cancelled")],
            flaky_id: [("", "queued"), ("queued", "processing"), ("processing", "retrying"),
                       ("retrying", "queued"), ("queued", "processing"),
                       ("processing", "succeeded")],
            doomed_id: [("", "queued"), ("queued", "processing"), ("processing", "failed"),
                        ("failed", "queued"), ("queued", "processing"),
                        ("processing", "succeeded")],
            hopeless: [("", "queued"), ("queued", "processing"), ("processing", "failed"),
                       ("failed", "deleted")],
            slow_id: [("", "queued"), ("queued", "processing"), ("processing", "cancelled")],
        }

        by_status = {
            status: {j.id for j in (await app.list_jobs(status=status, queue=QUEUE)).jobs}
            for status in ("succeeded", "cancelled", "failed")
        }
        assert by_status == {"succeeded": {flaky_id, doomed_id},
                             "cancelled": {later, slow_id}, "failed": set()}
        by_type = await app.list_jobs(type="flaky", queue=QUEUE)
        assert [j.id for j in by_type.jobs] == [flaky_id, later]  # newest first
        assert {j.id for j in (await app.list_jobs(queue=QUEUE)).jobs} == ids
    finally:
        await app.close()
