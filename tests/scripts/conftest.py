"""Fixtures of the script tables: the registered scripts, and a capture of PUBLISHes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from streamq.scripts import Scripts

from .redis_state import text


@pytest.fixture
def scripts(redis_client: Redis) -> Scripts:
    return Scripts(redis_client)


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
