"""Fixtures of the script tables: the registered scripts, a runner for one table row, a
store with the test settings, and a capture of PUBLISHes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from streamq.scripts import Scripts
from streamq.settings import Settings
from streamq.store import Store

from .redis_state import State, read_state, seed, text


@pytest.fixture
def scripts(redis_client: Redis) -> Scripts:
    return Scripts(redis_client)


@pytest.fixture
def store(redis_client: Redis, settings_for: Callable[..., Settings]) -> Store:
    """A store on the test's Redis, with the default test settings."""
    return Store(redis_client, settings_for())


class Table:
    """Runs one row of a script table against the test's Redis."""

    def __init__(self, redis: Redis, scripts: Scripts) -> None:
        self.redis = redis
        self.scripts = scripts

    async def check(
        self, before: State, call: Callable[[], Awaitable[Any]], reply: Any, after: State
    ) -> None:
        """Seed `before`, then `call` must answer `reply` and leave exactly `after`."""
        await seed(self.redis, before)
        assert await call() == reply
        assert await read_state(self.redis) == after


@pytest.fixture
def table(redis_client: Redis, scripts: Scripts) -> Table:
    return Table(redis_client, scripts)


class Publishes:
    """Every message published since the capture began, in order.

    `taken()` sends a PING on the subscribed connection: Redis answers it after every
    message published before it, so the capture is complete without sleeping.
    """

    def __init__(self, pubsub: PubSub) -> None:
        self.pubsub = pubsub

    async def taken(self) -> list[tuple[str, str]]:
        await self.pubsub.ping()
        got: list[tuple[str, str]] = []
        while True:
            message = await self.pubsub.get_message(timeout=5.0)
            assert message is not None, "no PONG on the pub/sub connection"
            if message["type"] == "pong":
                return got
            if message["type"] == "pmessage":
                got.append((text(message["channel"]), text(message["data"])))


@pytest.fixture
async def publishes(redis_client: Redis) -> AsyncIterator[Publishes]:
    pubsub = redis_client.pubsub()
    await pubsub.psubscribe("*")
    message = await pubsub.get_message(timeout=5.0)
    assert message is not None and message["type"] == "psubscribe"
    try:
        yield Publishes(pubsub)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
