"""The Redis client every part of streamq uses: one server, a Redis Cluster, or the
primary that Redis Sentinel names, each with commands packed by hiredis (`packing`)."""

from __future__ import annotations

from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from ..settings import Settings
from ..urls import parse_redis_url
from .cluster import ClusterBatch, ClusterClient, connect_cluster
from .packing import HiredisConnection, HiredisSSLConnection
from .sentinel import SentinelClient, connect_sentinel

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

Client: TypeAlias = Redis | ClusterClient
"""The client type the store is built on (the App owns its lifecycle)."""

Batch: TypeAlias = Pipeline | ClusterBatch
"""A pipeline of either client."""

__all__ = [
    "DEFAULT_REDIS_URL",
    "Batch",
    "Client",
    "ClusterBatch",
    "ClusterClient",
    "HiredisConnection",
    "HiredisSSLConnection",
    "SentinelClient",
    "connect",
]


def connect(settings: Settings) -> Client:
    """A client for `settings.redis_url` with streamq's timeouts (unix sockets unchanged)."""
    url = settings.redis_url or DEFAULT_REDIS_URL
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_timeout_s,
        "health_check_interval": 30,
    }
    target = parse_redis_url(url)
    if target.topology == "cluster":
        return connect_cluster(target, options)
    if target.topology == "sentinel":
        return connect_sentinel(target, options)
    if url.startswith("redis://"):
        options["connection_class"] = HiredisConnection
    elif url.startswith("rediss://"):
        options["connection_class"] = HiredisSSLConnection
    return Redis.from_url(url, **options)
