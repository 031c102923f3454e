"""Helpers of the job control tests: Redis snapshots (a refused call changes nothing)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis


async def snapshot(redis: Redis) -> dict[bytes, tuple[Any, bool]]:
    """Every key's serialized value and whether it has a TTL."""
    out: dict[bytes, tuple[Any, bool]] = {}
    for key in sorted(await redis.keys("*")):
        out[key] = (await redis.dump(key), await redis.pttl(key) > 0)
    return out


async def redis_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000
