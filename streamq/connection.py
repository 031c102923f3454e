"""The Redis client every part of streamq uses, with commands packed by hiredis.

redis-py's asyncio connections pack commands in pure Python; a transition script call
carries twenty-odd arguments, so packing was a third of the producer's CPU per job.
hiredis (already a dependency for parsing) packs the same bytes in C.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, SSLConnection

from .settings import Settings

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

Client = Redis
"""The client type the store is built on (the App owns its lifecycle)."""


class _HiredisPacking:
    """Mixin: `pack_command` through hiredis, byte-for-byte what redis-py produces."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:  # e.g. "CLIENT SETNAME"
            args = (*args[0].split(), *args[1:])
        return [hiredis.pack_command(args)]


class HiredisConnection(_HiredisPacking, Connection):
    """A TCP connection packing with hiredis."""


class HiredisSSLConnection(_HiredisPacking, SSLConnection):
    """A TLS connection packing with hiredis."""


def connect(settings: Settings) -> Redis:
    """A client for `settings.redis_url` with streamq's timeouts (unix sockets unchanged)."""
    url = settings.redis_url or DEFAULT_REDIS_URL
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_timeout_s,
        "health_check_interval": 30,
    }
    if url.startswith("redis://"):
        options["connection_class"] = HiredisConnection
    elif url.startswith("rediss://"):
        options["connection_class"] = HiredisSSLConnection
    return Redis.from_url(url, **options)
