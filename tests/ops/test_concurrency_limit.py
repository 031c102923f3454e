"""Per-type concurrency limit across nodes: at most N run at once; over the limit a job
waits (still queued, same attempt), it is neither failed nor retried."""

from __future__ import annotations

from collections.abc import Callable

import anyio
from redis.asyncio import Redis

from streamq import App, Context, JobRequest, Settings
from tests.support.clock import redis_ms
from tests.support.nodes import running_node


async def test_at_most_n_run_at_once_across_nodes(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    app = App(settings_for())
    now_running = 0
    peak = 0
    attempts: list[int] = []
    free_runs: list[int] = []

    @app.task("limited", concurrency=3)
    async def limited(ctx: Context) -> None:
        nonlocal now_running, peak
        now_running += 1
        peak = max(peak, now_running)
        attempts.append(ctx.attempt)
        await anyio.sleep(0.1)
        now_running -= 1

    @app.task("free")
    async def free(n: int) -> None:
        free_runs.append(n)

    try:
        results = await app.enqueue_many(
            [JobRequest("limited") for _ in range(24)] + [JobRequest("free", {"n": n})
                                                          for n in range(10)]
        )
        ids = [r.job_id for r in results]
        # two nodes in one process share `now_running`: it counts across both
        async with running_node(app, concurrency=10), running_node(app, concurrency=10):
            with anyio.fail_after(3):
                while len(free_runs) < 10:  # others are not held up by the limited type
                    await anyio.sleep(0.01)
            k = app.store.keys("default")
            assert await redis_client.zcard(k.waiting("limited")) > 0
            parked = [j.decode() for j in await redis_client.zrange(k.waiting("limited"), 0, 0)]
            assert (await app.get_job(parked[0])).status == "queued"
            with anyio.fail_after(20):
                for job_id in ids:
                    assert (await app.wait_for(job_id)).status == "succeeded"
        assert peak == 3
        assert attempts == [1] * 24
        assert await redis_client.zcard(k.running("limited")) == 0
        assert await redis_client.zcard(k.waiting("limited")) == 0
    finally:
        await app.close()


async def test_slot_of_a_dead_node_is_freed_by_its_lease(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    app = App(settings_for(visibility_timeout_ms=1000))
    ran: list[str] = []

    @app.task("solo", concurrency=1)
    async def solo(ctx: Context) -> None:
        ran.append(ctx.job_id)

    try:
        k = app.store.keys("default")
        # a node that died while running a `solo` job still holds the only slot
        await redis_client.zadd(k.running("solo"), {"ghost": await redis_ms(redis_client) + 800})
        job_id = await app.enqueue("solo")
        async with running_node(app, concurrency=2):
            with anyio.fail_after(5):
                job = await app.wait_for(job_id)
        assert job.status == "succeeded" and job.attempt == 1
        assert ran == [job_id]
    finally:
        await app.close()
