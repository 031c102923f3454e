"""The jobs channel: started deliveries from the fetchers to the node's executor slots.

It is an `asyncio.Queue` with anyio's end-of-stream semantics. anyio's memory object
stream creates a new `Event` (and an asyncio one beneath it) every time a receiver waits,
and in a drain every slot waits once per job: `python -m benchmarks.profile drain` put
about 12 % of the worker's samples there, and replacing it took worker CPU per job in a
drain to 0.75x (`python -m benchmarks.run --only streamq`, before and after). The channel
is unbounded: the node's slots bound what is in it (a fetcher takes a slot before it
sends).
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")

_CLOSED = object()


class JobChannel(Generic[T]):
    """Many senders, many receivers; `close()` ends it once the queued items are taken.

    A receiver cancelled while it waits takes nothing with it: `asyncio.Queue.get` leaves
    the item in the queue and wakes the next receiver.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False

    def send_nowait(self, item: T) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        self._queue.put_nowait(item)

    def close(self) -> None:
        """No more items: each receiver gets `EndOfStream` after the ones already sent."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(_CLOSED)

    def receive_nowait(self) -> T:
        """The next item; `WouldBlock` when there is none yet, `EndOfStream` when closed."""
        try:
            item = self._queue.get_nowait()
        except asyncio.QueueEmpty:
            raise anyio.WouldBlock from None
        return self._unwrap(item)

    async def receive(self) -> T:
        return self._unwrap(await self._queue.get())

    def _unwrap(self, item: object) -> T:
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # left for the next receiver
            raise anyio.EndOfStream
        return item  # type: ignore[return-value]

