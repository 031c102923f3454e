"""Fixtures: a private redis-server per test process, flushed before each test.

Every test talks to a real Redis that the suite starts itself (free port, own data dir,
AOF on), so tests can run in parallel (`-n auto`: one server per xdist worker) and chaos
tests can kill, pause or restart a server of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from streamq import App, Settings
from streamq.devredis import RedisServer
from streamq.store import Store


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private server per test process; AOF everysec (tests needing `always` own one)."""
    with RedisServer(appendfsync="everysec") as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The shared server's URL, emptied before the test."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture
def own_redis(tmp_path: Any) -> Iterator[RedisServer]:
    """A server this test alone uses and may SIGKILL, SIGSTOP or restart on the same dir."""
    server = RedisServer(data_dir=tmp_path / "redis", appendfsync="always")
    server.data_dir.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def settings_for(redis_url: str) -> Callable[..., Settings]:
    """Settings on the test's Redis, with fast timings unless a test overrides them."""

    def make(url: str | None = None, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": url or redis_url,
            "visibility_timeout_ms": 2_000,
            "reclaim_interval_ms": 200,
            "retry_base_s": 0.05,
            "retry_cap_s": 1.0,
            "grace_period_s": 2.0,
            "fetch_block_ms": 200,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
async def app(settings_for: Callable[..., Settings]) -> AsyncIterator[App]:
    """An App with no tasks yet; tests register their own."""
    application = App(settings_for())
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
def store(redis_client: Redis, settings_for: Callable[..., Settings]) -> Store:
    """The real store on the test's Redis (Redis's own clock), with the test settings."""
    return Store(redis_client, settings_for())
