"""Which Redis errors are an outage (waited out) and which a crash (counted): found by the
scenarios of Redis faults, where errors of pipelined scripts arrive wrapped by redis-py."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from streamq.store.classify import outage


def is_outage(exc: BaseException) -> bool:
    return outage(exc) is not None

pytestmark = pytest.mark.chaos


async def test_a_pipelined_command_refused_for_a_missing_group_is_an_outage(
    redis_client: Redis,
) -> None:
    pipe = redis_client.pipeline(transaction=False)
    pipe.xreadgroup("workers", "w1", {"streamq:{q}:stream:normal": ">"}, count=1)
    with pytest.raises(ResponseError) as caught:
        await pipe.execute()
    assert str(caught.value).startswith("Command # 1"), "redis-py wraps pipeline errors"
    assert is_outage(caught.value), "a lost group is waited out, not counted as a crash"


async def test_a_pipelined_script_refused_for_memory_is_an_outage(redis_client: Redis) -> None:
    await redis_client.config_set("maxmemory", "1")
    try:
        pipe = redis_client.pipeline(transaction=False)
        pipe.eval("return redis.call('SET', KEYS[1], 'x')", 1, "streamq:{q}:k")
        with pytest.raises(ResponseError) as caught:
            await pipe.execute()
    finally:
        await redis_client.config_set("maxmemory", "0")
    assert "maxmemory" in str(caught.value)
    assert is_outage(caught.value), "out of memory is waited out, not counted as a crash"


def test_a_script_bug_is_not_an_outage() -> None:
    assert not is_outage(ResponseError("ERR user_script:3: attempt to index a nil value"))


async def test_a_blocking_read_whose_stream_is_deleted_is_an_outage(redis_client: Redis) -> None:
    """Found by scenario 6: XREADGROUP blocked on a stream that is then deleted fails with
    UNBLOCKED; counted as a crash, ten stream deletions a minute would stop the node."""
    import anyio

    stream = "streamq:{q}:stream:normal"
    await redis_client.xgroup_create(stream, "workers", id="0", mkstream=True)
    other = redis_client.client()
    try:
        async with anyio.create_task_group() as tg:
            failure: list[BaseException] = []

            async def read() -> None:
                try:
                    await other.xreadgroup("workers", "w1", {stream: ">"}, count=1, block=5000)
                except ResponseError as exc:
                    failure.append(exc)

            tg.start_soon(read)
            await anyio.sleep(0.2)
            await redis_client.delete(stream)
    finally:
        await other.aclose()
    assert failure and str(failure[0]).startswith("UNBLOCKED"), failure
    assert is_outage(failure[0])


async def test_a_connection_dropped_under_a_command_is_an_outage(redis_url: str) -> None:
    """A Cluster client disconnects a failed node's connections while other tasks use them
    (seen as an actor crash during a failover): the command then meets a connection whose
    writer is gone, and redis-py raises AttributeError from inside its connection module."""
    from redis.asyncio.connection import Connection

    where = urlsplit(redis_url)
    conn = Connection(host=where.hostname or "127.0.0.1", port=where.port or 6379)
    await conn.connect()
    writer = conn._writer
    try:
        conn._writer = None  # what a concurrent disconnect leaves behind
        with pytest.raises(AttributeError) as caught:
            await conn._send_packed_command(conn.pack_command("PING"))
    finally:
        conn._writer = writer
        await conn.disconnect()
    assert is_outage(caught.value)
    assert not is_outage(AttributeError("'NoneType' object has no attribute 'writelines'")), (
        "the same error raised by our own code is a bug, not an outage")
