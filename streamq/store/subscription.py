"""A pub/sub subscription whose failures are classified like every other store call."""

from __future__ import annotations

import anyio
from redis.asyncio.client import PubSub

from .classify import translate_errors


@translate_errors
class Subscription:
    """Messages of some channels, as (channel, data) bytes; closed by `close()`."""

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    async def subscribe(self, *channels: str | bytes) -> None:
        await self._pubsub.subscribe(*channels)

    async def next_message(self, timeout: float) -> tuple[bytes, bytes] | None:  # noqa: ASYNC109
        """The next message within `timeout` seconds, or None."""
        message = await self._pubsub.get_message(timeout=timeout)
        if message is None:
            return None
        return message["channel"], message["data"]

    async def close(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
