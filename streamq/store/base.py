"""What every part of the store shares: the client, settings, scripts, key names, the
clock scripts run under, and the pipeline runner that reloads forgotten scripts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import NoScriptError

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

    def __init__(self, redis: Redis, settings: Settings, clock: Clock | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.scripts = Scripts(redis)
        self.clock = clock
        self._keys: dict[str, QueueKeys] = {}

    def now_arg(self) -> int:
        """The `now_ms` argument of a script: 0 lets the script read Redis TIME."""
        return 0 if self.clock is None else self.clock()

    async def _execute(self, pipe: Pipeline, raise_on_error: bool = True) -> list[Any]:
        """Run a pipeline in one round trip; load scripts Redis forgot and re-send only
        the calls it refused with NOSCRIPT (it ran none of those). On cancellation too,
        the connection goes back to the pool."""
        commands = list(pipe.command_stack)
        try:
            replies = list(await pipe.execute(raise_on_error=False))
        finally:
            with anyio.CancelScope(shield=True):
                await pipe.reset()  # type: ignore[no-untyped-call]
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

    def keys(self, queue: str) -> QueueKeys:
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys(self.settings.prefix, queue)
        return keys

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
        await self.redis.ping()
