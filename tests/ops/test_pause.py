"""Pause / resume a queue or one priority: fetching stops on every node within a second,
enqueue still works, resuming loses nothing."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, Settings, ValidationError
from tests.support.nodes import running_node
from tests.support.redis_state import snapshot


async def test_pause_stops_fetching_and_resume_loses_nothing(
    settings_for: Callable[..., Settings],
) -> None:
    # a long blocking read: the node is inside XREADGROUP BLOCK when the pause comes
    app = App(settings_for(fetch_block_ms=3000))
    done: list[int] = []

    @app.task("t")
    async def t(n: int) -> None:
        done.append(n)

    try:
        async with running_node(app, concurrency=4), running_node(app, concurrency=4):
            await anyio.sleep(0.3)  # both nodes idle, blocked on the streams
            await app.pause()
            assert await app.paused() == ["high", "normal", "low"]
            ids = [await app.enqueue("t", {"n": n}) for n in range(20)]
            await anyio.sleep(1.2)
            assert done == []
            assert {(await app.get_job(j)).status for j in ids} == {"queued"}
            await app.resume()
            assert await app.paused() == []
            with anyio.fail_after(10):
                for j in ids:
                    assert (await app.wait_for(j)).status == "succeeded"
        assert sorted(done) == list(range(20))
    finally:
        await app.close()


async def test_pause_one_priority(app: App) -> None:
    done: list[str] = []

    @app.task("t")
    async def t(p: str) -> None:
        done.append(p)

    await app.pause(priority="high")
    assert await app.paused() == ["high"]
    high = await app.enqueue("t", {"p": "high"}, priority="high")
    low = await app.enqueue("t", {"p": "low"}, priority="low")
    async with running_node(app, concurrency=2):
        await app.wait_for(low, timeout_s=5)
        await anyio.sleep(0.5)
        assert (await app.get_job(high)).status == "queued"
        await app.resume(priority="high")
        await app.wait_for(high, timeout_s=5)
    assert done == ["low", "high"]


async def test_resume_one_priority_of_a_paused_queue(app: App, redis_client: Redis) -> None:
    await app.store.ensure_groups("emails")  # a queue only Redis knows of
    await app.pause("emails")
    await app.resume("emails", priority="medium")
    assert await app.paused("emails") == ["high", "low"]
    # an older whole-queue marker is expanded when one priority resumes
    await redis_client.hset(app.store.keys("other").paused, "*", 1)
    assert await app.paused("other") == ["high", "normal", "low"]
    await app.resume("other", priority="low")
    assert await app.paused("other") == ["high", "normal"]


async def test_bad_pause_requests_change_nothing(app: App, redis_client: Redis) -> None:
    before = await snapshot(redis_client)
    with pytest.raises(ValidationError, match="unknown priority"):
        await app.pause(priority="urgent")
    with pytest.raises(ValidationError):
        await app.pause(queue="")
    with pytest.raises(ValidationError):
        await app.resume(priority="nope")
    assert await snapshot(redis_client) == before
