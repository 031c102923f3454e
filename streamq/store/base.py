"""What every part of the store shares: the client, settings, scripts, key names, the
clock scripts run under, and the pipeline runner that reloads forgotten scripts."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
from redis.exceptions import ClusterDownError, NoScriptError

from ..connection import Batch, Client, ClusterClient
from ..keys import QueueKeys
from ..scripts import Scripts
from ..settings import Settings
from .classify import translate_errors

Clock = Callable[[], int]
"""Milliseconds since the epoch. The default clock is Redis's own (scripts read TIME),
so that every node agrees; tests inject a fixed one."""


@translate_errors
class StoreBase:
    """The state every concern of the store works on."""

    def __init__(self, redis: Client, settings: Settings, clock: Clock | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.scripts = Scripts(redis)
        self.clock = clock
        self._keys: dict[str, QueueKeys] = {}

    def now_arg(self) -> int:
        """The `now_ms` argument of a script: 0 lets the script read Redis TIME."""
        return 0 if self.clock is None else self.clock()

    async def _execute(self, pipe: Batch, raise_on_error: bool = True) -> list[Any]:
        """Run a pipeline in one round trip; load scripts Redis forgot and re-send only
        the calls it refused with NOSCRIPT (it ran none of those). On cancellation too,
        the connection goes back to the pool."""
        commands = list(pipe.command_stack)
        try:
            replies = list(await pipe.execute(raise_on_error=False))
        finally:
            with anyio.CancelScope(shield=True):
                await pipe.reset()
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing:
            await self.scripts.load_all()
            retry = self.redis.pipeline(transaction=False)
            for i in missing:
                args, options = commands[i]
                retry.execute_command(*args, **options)
            for i, reply in zip(missing, await self._execute(retry, False), strict=True):
                replies[i] = reply
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        return replies

    def slot_groups(self, keys: Sequence[str]) -> list[list[str]]:
        """The keys grouped by the cluster slot they live on (one group on one server)."""
        if not isinstance(self.redis, ClusterClient):
            return [list(keys)]
        groups: dict[int, list[str]] = defaultdict(list)
        for key in keys:
            groups[self.redis.keyslot(key)].append(key)
        return list(groups.values())

    async def _run_script(
        self, script: Any, calls: Sequence[tuple[list[Any], list[Any]]]
    ) -> list[Any]:
        """The replies of `script` to each (keys, args) call, in one round trip. A single
        call is a plain EVALSHA (redis-py loads the script on NOSCRIPT): on the path of every
        job at low rates, a pipeline around one call costs more Python than the call."""
        if len(calls) == 1:
            [(keys, args)] = calls
            return [await script(keys=keys, args=args)]
        pipe = self.redis.pipeline(transaction=False)
        for keys, args in calls:
            await script(keys=keys, args=args, client=pipe)
        return await self._execute(pipe)

    async def _xread(self, after: Mapping[str, str], count: int, block_ms: int) -> list[Any]:
        """XREAD of several streams, waiting up to `block_ms` for the first entry.

        A blocking XREAD names keys of one slot only; streams of several slots (queues on
        several cluster nodes) are read without blocking, one read per slot in one
        pipeline, every 100 ms until something arrives or the time is up.
        """
        streams: dict[Any, Any] = dict(after)
        groups = self.slot_groups(list(after))
        if len(groups) == 1:
            return list(await self.redis.xread(streams, count=count, block=block_ms) or [])
        deadline = time.monotonic() + block_ms / 1000
        while True:
            pipe = self.redis.pipeline(transaction=False)
            for group in groups:
                pipe.xread({stream: streams[stream] for stream in group}, count=count)
            replies = [r for reply in await self._execute(pipe) for r in reply or []]
            left = deadline - time.monotonic()
            if replies or left <= 0:
                return replies
            await anyio.sleep(min(0.1, left))

    def keys(self, queue: str) -> QueueKeys:
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys(self.settings.prefix, queue)
        return keys

    @property
    def archive_maxlen(self) -> int:
        """Cap of each queue's archive stream, passed to the terminal scripts; 0 when no
        history archive is configured, so that they write no archive entry at all."""
        s = self.settings
        return s.history_max_backlog if s.history_url else 0

    @property
    def cancel_channel(self) -> str:
        """One channel for every queue: a node cancels the jobs it runs, whatever the queue."""
        return f"{self.settings.prefix}:cancel"

    async def redis_time_ms(self) -> int:
        """Redis's clock: the one clock every node agrees on (or the injected one)."""
        if self.clock is not None:
            return self.clock()
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def ping(self) -> None:
        """Redis answers; on a cluster, the node asked also says every slot is served."""
        await self.redis.ping()
        if isinstance(self.redis, ClusterClient):
            state = (await self.redis.cluster_info()).get("cluster_state")
            if state != "ok":
                raise ClusterDownError(f"CLUSTERDOWN cluster_state is {state}")
