"""A Redis Cluster, through redis-py's own asyncio cluster client.

redis-py routes every command by its keys' slot and follows MOVED and ASK itself; every
key a streamq script or pipeline touches carries its queue's hash tag, so each script runs
on one node. Two small additions, both on pipelines: they keep the commands they were
given (as a single-server pipeline's `command_stack` does), so that the calls Redis
refused with NOSCRIPT can be sent again; and TIME, which redis-py refuses in cluster
pipelines because it names no key, is sent to the default node, as outside a pipeline.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.connection import parse_url
from redis.exceptions import RedisClusterException

from ..urls import RedisTarget
from .packing import HiredisConnection, HiredisSSLConnection

MAX_CONNECTIONS_PER_NODE = 10_000
"""redis-py's default (100) raises MaxConnectionsError past it instead of waiting: a
node with a hundred jobs in flight would see it as an outage."""

Command = tuple[tuple[Any, ...], dict[str, Any]]


class ClusterBatch(ClusterPipeline):
    """A cluster pipeline that keeps its commands until it is reset."""

    __slots__ = ("command_stack",)

    def __init__(self, client: RedisCluster, transaction: bool | None = None) -> None:
        super().__init__(client, transaction)
        self.command_stack: list[Command] = []

    def execute_command(self, *args: Any, **kwargs: Any) -> ClusterBatch:
        self.command_stack.append((args, dict(kwargs)))
        super().execute_command(*args, **kwargs)
        return self

    async def reset(self) -> None:  # type: ignore[override]
        self.command_stack = []
        await super().reset()  # type: ignore[no-untyped-call]

    def time(self, **kwargs: Any) -> ClusterBatch:  # type: ignore[override]
        """TIME of the default node (the clock every keyless read uses)."""
        return self.execute_command("TIME", **kwargs)


class ClusterClient(RedisCluster):
    """redis-py's cluster client whose pipelines are `ClusterBatch`es."""

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> ClusterBatch:
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        return ClusterBatch(self, transaction)  # type: ignore[abstract]


def connect_cluster(target: RedisTarget, options: dict[str, Any]) -> ClusterClient:
    """A client seeded with the URL's nodes; the rest of the topology is discovered."""
    kwargs: dict[str, Any] = {**parse_url(target.node_url), **options}
    for name in ("host", "port", "db", "connection_class"):
        kwargs.pop(name, None)
    kwargs.setdefault("max_connections", MAX_CONNECTIONS_PER_NODE)
    client = ClusterClient(
        startup_nodes=[ClusterNode(host, port) for host, port in target.hosts],
        require_full_coverage=False,  # a slot being failed over leaves the others usable
        ssl=target.tls,
        **kwargs,
    )
    # Nodes discovered from now on connect with this class (seed nodes are only asked
    # for the topology).
    client.get_connection_kwargs()["connection_class"] = (
        HiredisSSLConnection if target.tls else HiredisConnection
    )
    return client
