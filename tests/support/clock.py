"""Clocks of the tests: Redis's own, and one the test moves by hand (given to a Store, it
stands for Redis's clock, so that scripts and actors run at a time the test chooses)."""

from __future__ import annotations

from redis.asyncio import Redis

NOW_MS = 1_700_000_000_000
"""Where a manual clock starts (ms since the epoch): far from the machine's own time, so a
time read from the wrong clock shows."""


class ManualClock:
    """Milliseconds since the epoch that change only when the test says so."""

    def __init__(self, now_ms: int = NOW_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> int:
        self.now_ms += ms
        return self.now_ms


async def redis_ms(redis: Redis) -> int:
    """Redis's clock (TIME), the one every node agrees on, in ms since the epoch."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000
