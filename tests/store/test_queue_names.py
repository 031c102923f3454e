"""Scripts take job ids as arguments: in a queue named `a:job:b` the recovery, limit and
retention paths write and remove the job ids themselves (the worker's end-to-end run of
such a queue is in tests/worker/test_queue_named_like_a_key.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from streamq.job import Event
from streamq.keys import PRIORITIES, Index, QueueKeys
from streamq.settings import Settings
from streamq.store import EnqueueSpec, ReclaimResult, ReleaseResult, Store

from .redis_state import PAYLOAD, TYPE, text

QUEUE = "a:job:b"
K = QueueKeys("streamq", QUEUE)
IDS = ["j1", "j2", "j3"]


async def members(redis: Redis, key: str) -> list[str]:
    return sorted(text(await redis.zrange(key, 0, -1)))


async def event_jobs(redis: Redis) -> set[str]:
    entries: Any = await redis.xrange(K.events)
    return {e.job_id for i, f in entries for e in Event.from_entry(QUEUE, i, f)}


async def test_reclaim_admit_release_and_trim_use_the_ids_they_are_given(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    store = Store(redis_client, settings_for(queue=QUEUE, max_deliveries=1))
    await store.ensure_groups(QUEUE)
    await store.enqueue([
        EnqueueSpec(QUEUE, j, TYPE, PAYLOAD.encode(), "normal", 3, 30.0) for j in IDS
    ])
    fetched = (await store.fetch(QUEUE, PRIORITIES, "lost", 10)).deliveries
    assert [d.job_id for d in await store.start("lost", fetched)] == IDS
    assert await members(redis_client, K.index("processing")) == IDS

    # the hand-back of a stopping node, then the reclaimer of a lost one (dead letter)
    assert await store.hand_back("lost", fetched[:2]) == ReclaimResult(requeued=2)
    result, _ = await store.reclaim(QUEUE, "normal", "rc", min_idle_ms=0)
    assert result == ReclaimResult(dead=1, dead_jobs=(("j3", TYPE),))
    assert await members(redis_client, K.index("queued")) == IDS[:2]
    assert await members(redis_client, K.index("failed")) == ["j3"]
    dead: Any = await redis_client.xrange(K.dead)
    assert [text(fields[b"job"]) for _, fields in dead] == ["j3"]

    # a type limited to one running job: one admitted, one parked, then given back
    again = (await store.fetch(QUEUE, PRIORITIES, "w1", 10)).deliveries
    assert await store.admit(QUEUE, "normal", TYPE, 1, again) == [True, False]
    assert await members(redis_client, K.running(TYPE)) == ["j1"]
    assert await members(redis_client, K.waiting(TYPE)) == ["j2"]
    assert await store.release(QUEUE, TYPE, 1, ["j1"]) == ReleaseResult(1, 1, 0)
    assert await members(redis_client, K.running(TYPE)) == ["j2"]

    # retention: the index entry of a record that is gone leaves, the others stay
    await redis_client.delete(K.job("j3"))
    assert await store.trim_index(QUEUE, Index("all"), IDS) == 1
    assert await members(redis_client, K.index_all) == IDS[:2]
    assert await event_jobs(redis_client) == set(IDS)
