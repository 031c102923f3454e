"""Idempotent enqueue: one job per key within its TTL, even under 100 concurrent
submissions; the same key with another payload is IdempotencyConflict, storing nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, IdempotencyConflict, Settings, ValidationError
from tests.support.redis_state import key_names, snapshot


async def test_100_concurrent_submissions_make_one_job(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    # separate clients, so the submissions really race on the server
    apps = [App(settings_for()) for _ in range(10)]
    try:
        ids = await asyncio.gather(*(
            apps[i % 10].enqueue("mail", {"to": "a@b.c"}, idempotency_key="signup-42")
            for i in range(100)
        ))
    finally:
        for a in apps:
            await a.close()
    assert len(set(ids)) == 1
    k = apps[0].store.keys("default")
    assert await redis_client.xlen(k.stream("normal")) == 1
    assert await redis_client.zcard(k.index("queued")) == 1
    assert await redis_client.zcard(k.index_all) == 1
    assert len(await key_names(redis_client, k.job("*"))) == 1
    assert await redis_client.xlen(k.events) == 1


async def test_conflicting_payload_is_refused_and_stores_nothing(
    app: App, redis_client: Redis
) -> None:
    job_id = await app.enqueue("mail", {"to": "a@b.c"}, idempotency_key="k1")
    assert await app.enqueue("mail", {"to": "a@b.c"}, idempotency_key="k1") == job_id
    before = await snapshot(redis_client)
    with pytest.raises(IdempotencyConflict) as conflict:
        await app.enqueue("mail", {"to": "x@y.z"}, idempotency_key="k1")
    assert conflict.value.detail == {"job_id": job_id}
    with pytest.raises(IdempotencyConflict):
        await app.enqueue("other.type", {"to": "a@b.c"}, idempotency_key="k1")
    with pytest.raises(ValidationError):
        await app.enqueue("mail", {}, idempotency_key="")
    with pytest.raises(ValidationError):
        await app.enqueue("mail", {}, idempotency_key="x" * 257)
    assert await snapshot(redis_client) == before


async def test_key_expires_with_its_ttl(settings_for: Callable[..., Settings]) -> None:
    async with App(settings_for(idempotency_ttl_s=1)) as app:
        first = await app.enqueue("mail", {"n": 1}, idempotency_key="k")
        assert await app.enqueue("mail", {"n": 1}, idempotency_key="k") == first
        await anyio.sleep(1.1)
        second = await app.enqueue("mail", {"n": 1}, idempotency_key="k")
        assert second != first
        assert (await app.get_job(first)).id == first
