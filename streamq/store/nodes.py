"""Nodes: the registry of live worker nodes and their consumers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from redis.exceptions import ResponseError

from ..keys import GROUP
from .base import StoreBase
from .classify import translate_errors
from .results import as_str


@translate_errors
class Nodes(StoreBase):
    """Heartbeats in, dead nodes and idle consumers out."""

    async def register_node(self, queues: Sequence[str], node: str, info: dict[str, Any]) -> int:
        """Record a node's heartbeat in each queue's registry; returns Redis time in ms."""
        now_ms = await self.redis_time_ms()
        blob = orjson.dumps({**info, "heartbeat_ms": now_ms})
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            k = self.keys(queue)
            pipe.zadd(k.workers, {node: now_ms})
            pipe.hset(k.worker_info, node, blob)
        await self._execute(pipe)
        return int(now_ms)

    async def unregister_node(self, queues: Sequence[str], node: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            k = self.keys(queue)
            pipe.zrem(k.workers, node)
            pipe.hdel(k.worker_info, node)
        await self._execute(pipe)

    async def announced_tasks(self, queue: str) -> dict[str, str]:
        """Task type -> queue, as the queue's live nodes announce them in their heartbeat
        (for clients that have no App to check a type against); empty when none does."""
        k = self.keys(queue)
        now_ms = await self.redis_time_ms()
        nodes = [n for n in await self.redis.zrangebyscore(
            k.workers, now_ms - self.settings.node_ttl_ms, "+inf") if isinstance(n, bytes)]
        tasks: dict[str, str] = {}
        for blob in await self.redis.hmget(k.worker_info, nodes) if nodes else []:
            announced = orjson.loads(blob).get("tasks") if blob else None
            if isinstance(announced, dict):
                tasks.update({str(t): str(q) for t, q in announced.items()})
        return tasks

    async def prune_nodes(self, queue: str, now_ms: int) -> list[str]:
        """Forget nodes whose heartbeat is older than `node_ttl_ms`, and delete their
        consumers once nothing is pending under them (DELCONSUMER drops pending entries)."""
        k = self.keys(queue)
        cutoff = now_ms - self.settings.node_ttl_ms
        gone = [as_str(n) for n in await self.redis.zrangebyscore(k.workers, "-inf", cutoff)]
        for node in gone:
            await self.redis.zrem(k.workers, node)
            await self.redis.hdel(k.worker_info, node)
        for stream in k.streams:
            try:
                consumers = await self.redis.xinfo_consumers(stream, GROUP)
            except ResponseError:
                continue
            for c in consumers:
                name = as_str(c["name"])
                idle = int(c.get("inactive", c["idle"]))
                if c["pending"] == 0 and idle > self.settings.node_ttl_ms:
                    await self.redis.xgroup_delconsumer(stream, GROUP, name)
        return gone
