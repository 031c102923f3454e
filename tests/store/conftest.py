"""Fixtures of the script tables: a runner for one table row over the store under a frozen
clock, a store on Redis time, and a capture of PUBLISHes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from streamq.errors import StreamqError
from streamq.settings import Settings
from streamq.store import Store

from .redis_state import (
    DEAD_MAX,
    EVENTS_MAX,
    FAILED_TTL_MS,
    IDEM_TTL_MS,
    LEASE_MS,
    MAX_BACKLOG,
    MAX_DELIVERIES,
    NOW,
    OK_TTL_MS,
    State,
    read_state,
    seed,
    text,
)

TABLE_SETTINGS: dict[str, Any] = {
    "events_max_entries": EVENTS_MAX,
    "dead_max_entries": DEAD_MAX,
    "result_ttl_s": OK_TTL_MS // 1000,
    "failed_ttl_s": FAILED_TTL_MS // 1000,
    "idempotency_ttl_s": IDEM_TTL_MS // 1000,
    "visibility_timeout_ms": LEASE_MS,
    "max_deliveries": MAX_DELIVERIES,
    "max_backlog": MAX_BACKLOG,
}
"""The settings the tables' store passes to the scripts (bounds, retentions, leases)."""


@pytest.fixture
def store(redis_client: Redis, settings_for: Callable[..., Settings]) -> Store:
    """A store on the test's Redis, on Redis time, with the default test settings."""
    return Store(redis_client, settings_for())


@dataclass(frozen=True)
class Raises:
    """The reply of a row whose store call refuses: the error, its detail, and a pattern
    its message matches."""

    error: type[StreamqError]
    detail: dict[str, Any] = field(default_factory=dict)
    match: str | None = None


class Table:
    """Runs one row of a script table: the store's own call, under the frozen clock."""

    def __init__(self, redis: Redis, settings_for: Callable[..., Settings]) -> None:
        self.redis = redis
        self._settings_for = settings_for
        self.store = self.store_with()

    def store_with(self, **overrides: Any) -> Store:
        """A store at `NOW` with the tables' settings, `overrides` changed."""
        settings = self._settings_for(**{**TABLE_SETTINGS, **overrides})
        return Store(self.redis, settings, clock=lambda: NOW)

    async def check(
        self, before: State, call: Callable[[], Awaitable[Any]], reply: Any, after: State
    ) -> None:
        """Seed `before`; then `call` must answer `reply` (or raise it, a `Raises`) and
        leave exactly `after`."""
        await seed(self.redis, before)
        if isinstance(reply, Raises):
            with pytest.raises(reply.error, match=reply.match) as raised:
                await call()
            assert raised.value.detail == reply.detail
        else:
            assert await call() == reply
        assert await read_state(self.redis) == after


@pytest.fixture
def table(redis_client: Redis, settings_for: Callable[..., Settings]) -> Table:
    return Table(redis_client, settings_for)


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
