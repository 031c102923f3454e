"""A primary found through Redis Sentinel, with redis-py's own `Sentinel.master_for`.

Each new connection asks the sentinels where the primary is; a connection to a primary
that was demoted fails (READONLY becomes a connection error), so after a failover every
connection moves to the promoted replica by itself, with no restart and no new URL.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import parse_url
from redis.asyncio.sentinel import Sentinel

from ..urls import RedisTarget
from .packing import HiredisSentinelConnection, HiredisSentinelSSLConnection

SENTINEL_AUTH = ("sentinel_username", "sentinel_password")
"""URL query options for sentinels that require a password of their own; the URL's
user and password are those of the Redis servers."""


class SentinelClient(Redis):
    """The primary's client; closing it also closes the connections to the sentinels."""

    sentinel_manager: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            if self.sentinel_manager is not None:
                await self.sentinel_manager.aclose()


def connect_sentinel(target: RedisTarget, options: dict[str, Any]) -> SentinelClient:
    """A client of the service's primary, wherever the sentinels say it is."""
    kwargs: dict[str, Any] = {**parse_url(target.node_url), **options}
    for name in ("host", "port", "connection_class"):
        kwargs.pop(name, None)
    sentinel_kwargs: dict[str, Any] = {
        k: v for k, v in options.items() if k.startswith("socket_")
    }
    for name in SENTINEL_AUTH:
        if name in kwargs:
            sentinel_kwargs[name.removeprefix("sentinel_")] = kwargs.pop(name)
    if target.tls:
        sentinel_kwargs["ssl"] = True
        sentinel_kwargs.update({k: v for k, v in kwargs.items() if k.startswith("ssl_")})
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.hosts), sentinel_kwargs=sentinel_kwargs, **kwargs
    )
    client: SentinelClient = sentinel.master_for(
        target.service,
        redis_class=SentinelClient,
        connection_class=(
            HiredisSentinelSSLConnection if target.tls else HiredisSentinelConnection
        ),
    )
    client.sentinel_manager = sentinel
    return client
