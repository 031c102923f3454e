"""After a run: every accepted job terminal exactly once, nothing left in flight."""

from __future__ import annotations

from redis.asyncio import Redis

from streamq.keys import PRIORITIES, QueueKeys


async def assert_queue_drained(redis: Redis, queue: str = "default") -> None:
    """No stream entry, no pending entry, nothing scheduled or processing."""
    k = QueueKeys("streamq", queue)
    for priority in PRIORITIES:
        stream = k.stream(priority)
        if await redis.exists(stream):
            assert await redis.xlen(stream) == 0, f"{stream} still holds entries"
            for group in await redis.xinfo_groups(stream):
                assert group["pending"] == 0, f"{stream} still has pending entries"
    assert await redis.zcard(k.scheduled) == 0
    assert await redis.zcard(k.index("processing")) == 0
    assert await redis.zcard(k.index("queued")) == 0
