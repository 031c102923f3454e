"""Listing indices are trimmed with retention: entries of expired records go at the
janitor's sweep, a bounded batch at a time; finished-status indices are trimmed by age."""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from streamq import App, JobRequest, Settings
from streamq.worker.janitor import Janitor
from tests.support.clock import redis_ms


async def test_sweep_drops_index_entries_of_expired_records(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    async with App(settings_for(result_ttl_s=1, failed_ttl_s=1)) as app:
        ids = [r.job_id for r in await app.enqueue_many([JobRequest("t") for _ in range(25)])]
        other = await app.enqueue("u")
        k = app.store.keys("default")
        old = await redis_ms(redis_client) - 10_000
        # make them look created long ago, and let most records expire
        await redis_client.zadd(k.index_all, dict.fromkeys([*ids, other], old))
        await redis_client.zadd(k.index_type("t"), dict.fromkeys(ids, old))
        await redis_client.zadd(k.index_type("u"), {other: old})
        await redis_client.delete(*(k.job(j) for j in ids[:20]), k.job(other))
        janitor = Janitor(app.store, ["default"], batch=10)
        removed = 0
        for _ in range(4):  # bounded batches, resuming where the last sweep stopped
            removed += await janitor.sweep_once()
        assert removed == 42  # 21 in index:all, 20 in index:type:t, 1 in index:type:u
        assert await redis_client.zcard(k.index_all) == 5
        assert sorted(m.decode() for m in await redis_client.zrange(k.index_type("t"), 0, -1)) \
            == sorted(ids[20:])
        assert await redis_client.smembers(k.types) == {b"t"}  # empty type index forgotten


async def test_finished_indices_are_trimmed_by_age(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    async with App(settings_for(result_ttl_s=60)) as app:
        k = app.store.keys("default")
        now = await redis_ms(redis_client)
        await redis_client.zadd(k.index("succeeded"), {"old": now - 61_000, "new": now})
        await Janitor(app.store, ["default"]).sweep_once()
        assert await redis_client.zrange(k.index("succeeded"), 0, -1) == [b"new"]
