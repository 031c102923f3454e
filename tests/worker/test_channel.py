"""The jobs channel between fetchers and executor slots: order, closing, cancelled waiters."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from streamq.worker.channel import JobChannel


async def test_items_come_out_in_the_order_they_were_sent() -> None:
    channel = JobChannel[int]()
    for i in range(5):
        channel.send_nowait(i)
    assert [channel.receive_nowait() for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(anyio.WouldBlock):
        channel.receive_nowait()


async def test_close_ends_every_receiver_after_the_items_already_sent() -> None:
    channel = JobChannel[int]()
    taken: list[int] = []
    ended: list[int] = []

    async def slot(n: int) -> None:
        while True:
            try:
                taken.append(await channel.receive())
            except anyio.EndOfStream:
                ended.append(n)
                return

    async with anyio.create_task_group() as tg:
        for n in range(4):
            tg.start_soon(slot, n)
        await anyio.wait_all_tasks_blocked()
        for i in range(10):
            channel.send_nowait(i)
        channel.close()
    assert sorted(taken) == list(range(10))
    assert sorted(ended) == [0, 1, 2, 3]
    with pytest.raises(anyio.EndOfStream):
        channel.receive_nowait()
    with pytest.raises(anyio.ClosedResourceError):
        channel.send_nowait(99)


async def test_a_receiver_cancelled_after_an_item_was_handed_to_it_takes_nothing() -> None:
    channel = JobChannel[str]()
    waiter = asyncio.ensure_future(channel.receive())
    await asyncio.sleep(0)  # now waiting on the empty channel
    # The item arrives and the waiting receiver is cancelled before it resumes (a grace
    # period ending, say): the item must stay in the channel for the next receiver.
    channel.send_nowait("job")
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert channel.receive_nowait() == "job"
