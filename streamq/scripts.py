"""The Lua transition scripts, loaded once into a typed object.

Each `lua/<name>.lua` is one state change; `_lib.lua` is prepended to each, since Lua in
Redis has no include. A missing file fails at import, not at the first job.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from .connection import Batch, Client, ClusterBatch, ClusterClient

_LUA = resources.files("streamq") / "lua"
SCRIPT_NAMES: tuple[str, ...] = ("enqueue", "fetch", "start", "finish", "promote", "reclaim",
                                 "renew", "cancel", "requeue", "progress",
                                 "cron", "list_page", "trim", "admit", "release", "pause",
                                 "dlq_delete")


def script_source(name: str) -> str:
    """Full text of one script, helpers included."""
    return (_LUA / "_lib.lua").read_text() + "\n" + (_LUA / f"{name}.lua").read_text()


class LuaScript:
    """One transition script. Called with a pipeline it only queues its EVALSHA.

    redis-py's own Script, given a pipeline, makes the pipeline ask `SCRIPT EXISTS` before
    every execution: a second round trip per batch. Here the store loads missing scripts
    only when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH) and re-sends just
    the commands that failed, which Redis had not run.
    """

    def __init__(self, redis: Client, source: str) -> None:
        self._script: AsyncScript = redis.register_script(source)
        self.sha: str = self._script.sha
        self.source = source

    async def __call__(
        self, keys: list[Any], args: list[Any], client: Client | Batch | None = None
    ) -> Any:
        if isinstance(client, Pipeline | ClusterBatch):
            return client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        return await self._script(keys=keys, args=args, client=client)


class Scripts:
    """The scripts of one Redis client, loaded on demand (NOSCRIPT) by the store."""

    def __init__(self, redis: Client) -> None:
        self._redis = redis
        self._all: list[LuaScript] = []

        def load(name: str) -> LuaScript:
            script = LuaScript(redis, script_source(name))
            self._all.append(script)
            return script

        self.enqueue = load("enqueue")
        self.fetch = load("fetch")
        self.start = load("start")
        self.finish = load("finish")
        self.promote = load("promote")
        self.reclaim = load("reclaim")
        self.renew = load("renew")
        self.cancel = load("cancel")
        self.requeue = load("requeue")
        self.progress = load("progress")
        self.cron = load("cron")
        self.list_page = load("list_page")
        self.trim = load("trim")
        self.admit = load("admit")
        self.release = load("release")
        self.pause = load("pause")
        self.dlq_delete = load("dlq_delete")

    async def load_all(self) -> None:
        """`SCRIPT LOAD` every script in one round trip (after Redis forgot them); on a
        cluster, on every primary at once (replicas do not inherit loaded scripts, so a
        replica promoted by a failover starts without them)."""
        pipe = self._redis.pipeline(transaction=False)
        if isinstance(self._redis, ClusterClient):
            for node in self._redis.get_primaries():
                for script in self._all:
                    pipe.execute_command("SCRIPT LOAD", script.source, target_nodes=node)
        else:
            for script in self._all:
                pipe.script_load(script.source)
        await pipe.execute()
