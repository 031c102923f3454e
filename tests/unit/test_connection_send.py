"""Sending commands through streamq's connections: no task per command, and a write that
cannot finish still ends in redis-py's own timeout error, with the connection dropped and
the rest of the command never sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from streamq.connection import HiredisConnection
from streamq.devredis import RedisServer


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url, connection_class=HiredisConnection, socket_timeout=5)
    try:
        yield redis
    finally:
        await redis.aclose()


async def test_a_command_creates_no_task(client: Redis) -> None:
    await client.ping()  # connected
    loop = asyncio.get_running_loop()
    created: list[Any] = []
    default = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        created.append(coro)
        if default is not None:
            return default(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        for n in range(20):
            await client.set(f"k{n}", n)
        assert created == []  # redis-py's asyncio.wait_for made one per command
        async with client.pipeline(transaction=False) as pipe:
            pipe.get("k1")
            pipe.get("k2")
            replies = await pipe.execute()
    finally:
        loop.set_task_factory(default)
    assert replies == [b"1", b"2"]
    # a pipeline's send makes no task either (redis-py shields the connection's release
    # in one of its own when the pipeline resets)
    assert [c.__name__ for c in created] == ["release"]


async def test_a_write_that_cannot_finish_times_out_and_drops_the_connection(
    own_redis: RedisServer,
) -> None:
    redis = Redis.from_url(
        own_redis.url, connection_class=HiredisConnection, socket_timeout=0.5,
        single_connection_client=True,
    )
    try:
        await redis.ping()
        own_redis.pause()  # reads nothing: the socket buffers fill and the write waits
        try:
            with pytest.raises(RedisTimeoutError, match="Timeout writing to socket"):
                await redis.set("big", b"x" * (64 << 20))
            assert redis.connection is not None
            assert not redis.connection.is_connected
        finally:
            own_redis.resume()
        assert await redis.ping()  # a new connection
        await asyncio.sleep(0.3)
        assert await redis.exists("big") == 0  # what was buffered was dropped, not sent
    finally:
        await redis.aclose()


async def test_a_write_cancelled_midway_is_never_completed(own_redis: RedisServer) -> None:
    redis = Redis.from_url(
        own_redis.url, connection_class=HiredisConnection, socket_timeout=10,
        single_connection_client=True,
    )
    try:
        await redis.ping()
        own_redis.pause()
        try:
            with anyio.move_on_after(0.3) as scope:
                await redis.set("big", b"x" * (64 << 20))
            assert scope.cancelled_caught
            assert redis.connection is not None
            assert not redis.connection.is_connected
        finally:
            own_redis.resume()
        assert await redis.ping()
        await asyncio.sleep(0.3)
        assert await redis.exists("big") == 0  # the buffered rest was dropped, not flushed
    finally:
        await redis.aclose()
