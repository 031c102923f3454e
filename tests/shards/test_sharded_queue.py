"""One queue in three shards on a single Redis: the routing logic end to end. Jobs spread
over the shards and all complete; one node consumes every shard; lookups by id go to the
job's shard; listing and the dead-letter queue page every job exactly once; idempotency,
pause, statistics and per-type limits hold across the shards."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from streamq import App, Context, Fail, IdempotencyConflict, JobNotFound, Settings
from streamq.keys import QueueKeys
from streamq.shards import id_shard, shard_name
from tests.support.nodes import running_node

SHARDS = 3


@pytest.fixture
async def sharded(settings_for: Callable[..., Settings]) -> AsyncIterator[App]:
    app = App(settings_for(shards=SHARDS))

    @app.task("work", max_retries=0)
    async def work(n: int, fail: bool = False, seconds: float = 0.0) -> int:
        await anyio.sleep(seconds)
        if fail:
            raise Fail(f"job {n} fails on purpose")
        return n

    try:
        yield app
    finally:
        await app.close()


def _record_key(job_id: str) -> str:
    return QueueKeys("streamq", shard_name("default", id_shard(job_id))).job(job_id)


async def test_jobs_spread_over_the_shards_and_all_complete(
    sharded: App, redis_client: Redis
) -> None:
    ids = [await sharded.enqueue("work", {"n": n}) for n in range(30)]
    assert Counter(id_shard(j) for j in ids) == {0: 10, 1: 10, 2: 10}
    for k in range(SHARDS):  # each shard's stream holds its own third
        stream = QueueKeys("streamq", shard_name("default", k)).stream("normal")
        assert await redis_client.xlen(stream) == 10
    assert all([await redis_client.exists(_record_key(j)) for j in ids])
    async with running_node(sharded, concurrency=8):
        jobs = [await sharded.wait_for(j, timeout_s=10) for j in ids]
    assert [(j.status, j.result, j.queue, j.shard) for j in jobs] == [
        ("succeeded", n, "default", id_shard(ids[n])) for n in range(30)
    ]


async def test_one_node_blocks_on_every_shard(sharded: App) -> None:
    """The node is idle (blocked on each shard's stream) when jobs arrive on one shard
    only: they start at once, whichever shard."""
    async with running_node(sharded, concurrency=4):
        await anyio.sleep(0.3)
        for k in range(SHARDS):
            key = next(p for p in (f"p{i}" for i in range(50))
                       if sharded.registry.layout.shard_for("default", p) == k)
            job_id = await sharded.enqueue("work", {"n": k}, partition_key=key)
            assert id_shard(job_id) == k
            with anyio.fail_after(1.5):
                assert (await sharded.wait_for(job_id)).result == k


async def test_get_cancel_and_retry_go_to_the_job_s_shard(sharded: App) -> None:
    waiting = [await sharded.enqueue("work", {"n": n}) for n in range(SHARDS)]
    assert sorted(id_shard(j) for j in waiting) == [0, 1, 2]
    for job_id in waiting:  # no node runs: each stays queued until cancelled
        job = await sharded.get_job(job_id)
        assert (job.status, job.shard) == ("queued", id_shard(job_id))
        assert (await sharded.cancel(job_id)).status == "cancelled"
        assert (await sharded.retry(job_id)).status == "queued"
    with pytest.raises(JobNotFound):
        on_one = next(j for j in waiting if id_shard(j) == 1)
        await sharded.get_job(on_one[:-1] + "2")  # the same id on a shard it is not on
    async with running_node(sharded, concurrency=4):
        assert {(await sharded.wait_for(j, timeout_s=10)).status for j in waiting} == {
            "succeeded"}


async def test_dead_letters_of_every_shard_under_one_cursor(sharded: App) -> None:
    failed = [await sharded.enqueue("work", {"n": n, "fail": True, "seconds": 0.2})
              for n in range(9)]
    async with running_node(sharded, concurrency=8):
        for j in failed:
            assert (await sharded.wait_for(j, timeout_s=10)).status == "failed"
        seen: list[str] = []
        cursor = None
        while True:
            page = await sharded.dlq_list(limit=2, cursor=cursor)
            seen += [e.job_id for e in page.entries]
            assert all(e.queue == "default" and e.shard == id_shard(e.job_id)
                       for e in page.entries)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(failed)
        on_1, on_2 = (next(j for j in failed if id_shard(j) == k) for k in (1, 2))
        retried = await sharded.dlq_retry(on_1)  # the running node may start it at once
        assert retried.status != "failed" and retried.shard == 1
        await sharded.dlq_delete(on_2)
        with pytest.raises(JobNotFound):
            await sharded.get_job(on_2)
        assert (await sharded.wait_for(on_1, timeout_s=10)).status == "failed"
    assert await sharded.dlq_requeue() == 8
    assert (await sharded.dlq_list()).entries == []


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(limit=st.integers(1, 9), status=st.sampled_from([None, "queued"]))
async def test_listing_pages_every_job_of_every_shard_exactly_once(
    sharded: App, limit: int, status: str | None
) -> None:
    await sharded.store.redis.flushall()
    ids = [await sharded.enqueue("work", {"n": n}) for n in range(23)]
    ids += [await sharded.enqueue("work", {"n": n}, partition_key="same") for n in range(4)]
    seen: list[str] = []
    cursor = None
    while True:
        page = await sharded.list_jobs(status=status, limit=limit, cursor=cursor)
        assert len(page.jobs) <= limit
        seen += [j.id for j in page.jobs]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert seen == sorted(ids, reverse=True)  # newest first across the shards


async def test_an_idempotency_key_always_lands_on_one_shard(sharded: App) -> None:
    first = await sharded.enqueue("work", {"n": 1}, idempotency_key="order-7")
    again = [await sharded.enqueue("work", {"n": 1}, idempotency_key="order-7")
             for _ in range(6)]  # the round robin moves on meanwhile
    assert set(again) == {first}
    with pytest.raises(IdempotencyConflict):
        await sharded.enqueue("work", {"n": 2}, idempotency_key="order-7")
    keys = {await sharded.enqueue("work", {"n": 3}, idempotency_key=f"k{i}") for i in range(30)}
    assert {id_shard(j) for j in keys} == {0, 1, 2}  # different keys still spread


async def test_pause_and_statistics_cover_every_shard(sharded: App) -> None:
    await sharded.pause()
    assert await sharded.paused() == ["high", "normal", "low"]
    ids = [await sharded.enqueue("work", {"n": n}) for n in range(9)]
    async with running_node(sharded, concurrency=4):
        await anyio.sleep(0.6)
        assert {(await sharded.get_job(j)).status for j in ids} == {"queued"}
        [stats] = await sharded.queue_stats()
        assert (stats.queue, stats.shards, stats.paused) == ("default", SHARDS, True)
        assert stats.lag == 9 and stats.workers == 1
        await sharded.resume()
        assert await sharded.paused() == []
        for j in ids:
            assert (await sharded.wait_for(j, timeout_s=10)).status == "succeeded"
    [stats] = await sharded.queue_stats()
    assert (stats.length, stats.paused) == (0, False)


async def test_a_limited_type_lives_on_its_home_shard_and_its_limit_holds(
    settings_for: Callable[..., Settings],
) -> None:
    app = App(settings_for(shards=SHARDS))
    running, peak = 0, 0

    @app.task("slow", concurrency=2)
    async def slow(ctx: Context) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.05)
        running -= 1

    try:
        ids = [await app.enqueue("slow", {}) for _ in range(12)]
        assert len({id_shard(j) for j in ids}) == 1
        async with running_node(app, concurrency=8), running_node(app, concurrency=8):
            for j in ids:
                assert (await app.wait_for(j, timeout_s=10)).status == "succeeded"
        assert peak == 2
    finally:
        await app.close()


async def test_a_cron_fires_once_per_tick_on_its_home_shard(
    settings_for: Callable[..., Settings],
) -> None:
    app = App(settings_for(shards=SHARDS))
    ticks: list[str] = []

    @app.cron("* * * * * *", name="beat")
    async def beat(ctx: Context) -> None:
        ticks.append(ctx.job_id)

    try:
        async with running_node(app, concurrency=4), running_node(app, concurrency=4):
            await anyio.sleep(2.6)
        page = await app.list_jobs(type="beat")
        assert len(page.jobs) == len(ticks) >= 2
        assert len({j.shard for j in page.jobs}) == 1  # every tick on the cron's shard
    finally:
        await app.close()


async def test_worker_metrics_count_the_queue_not_its_shards(sharded: App) -> None:
    from streamq.metrics import REGISTRY

    ids = [await sharded.enqueue("work", {"n": n}) for n in range(6)]
    async with running_node(sharded, concurrency=4):
        for j in ids:
            await sharded.wait_for(j, timeout_s=10)
    queues = {s.labels["queue"] for metric in REGISTRY.collect() for s in metric.samples
              if "queue" in s.labels}
    assert "default" in queues and not any("#" in q for q in queues)
