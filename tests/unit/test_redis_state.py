"""The tests' one way to read Redis whole (tests/support/redis_state.py): a seeded state
reads back equal, and a snapshot sees every change a refused call could make."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest
from redis.asyncio import Redis

from streamq.keys import GROUP
from tests.support.redis_state import (
    Expiring,
    Pending,
    Stream,
    Ttl,
    ZSet,
    key_names,
    read_state,
    seed,
    snapshot,
)

STATE = {
    "h": {"status": "queued", "n": "1"},
    "z": ZSet({"a": 1.0, "b": 2.5}),
    "s": {"x", "y"},
    "l": ["1", "2", "2"],
    "str": Ttl("v", 60),
    "empty": Stream(),
    "st": Stream([("1-0", {"id": "j1"}), ("2-0", {"id": "j2"})],
                 pending={"1-0": Pending("w1", 5000), "0-5": "w2"}, last_delivered="2-0"),
}


async def test_a_seeded_state_reads_back_equal(redis_client: Redis) -> None:
    await seed(redis_client, STATE)
    state = await read_state(redis_client)
    assert state == {**STATE, "st": Stream(STATE["st"].entries, {"1-0": "w1", "0-5": "w2"},
                                           "2-0")}
    assert await key_names(redis_client, "s*") == ["s", "st", "str"]


async def test_text_that_is_not_utf8_stays_bytes(redis_client: Redis) -> None:
    await redis_client.set("b", b"\xff\xfe")
    assert await read_state(redis_client) == {"b": b"\xff\xfe"}


async def test_a_snapshot_holds_absolute_expiries_that_do_not_tick(redis_client: Redis) -> None:
    await redis_client.set("k", "v", px=60_000)
    before = await snapshot(redis_client)
    assert isinstance(before["k"], Expiring) and before["k"].value == "v"
    await anyio.sleep(0.01)
    assert await snapshot(redis_client) == before


async def _stream(redis: Redis) -> None:
    await redis.xadd("st", {"id": "j1"}, id="1-0")
    await redis.xgroup_create("st", GROUP, id="0")


CHANGES: list[tuple[str, Callable[[Redis], Awaitable[object]]]] = [
    ("a value", lambda r: r.hset("h", "n", "2")),
    ("a new key", lambda r: r.set("new", "1")),
    ("an expiry", lambda r: r.expire("h", 100)),
    ("an expiry moved", lambda r: r.pexpire("k", 120_000)),
    ("an entry added and deleted", lambda r: r.xadd("st", {"x": "1"}, id="5-0")),
    ("a consumer created", lambda r: r.xgroup_createconsumer("st", GROUP, "w9")),
    ("an entry delivered", lambda r: r.xreadgroup(GROUP, "w1", {"st": ">"})),
]


@pytest.mark.parametrize(("name", "change"), CHANGES, ids=[c[0] for c in CHANGES])
async def test_a_snapshot_sees_every_change(
    redis_client: Redis, name: str, change: Callable[[Redis], Awaitable[object]]
) -> None:
    await redis_client.hset("h", mapping={"n": "1"})
    await redis_client.set("k", "v", px=60_000)
    await _stream(redis_client)
    before = await snapshot(redis_client)
    await change(redis_client)
    if name == "an entry added and deleted":
        await redis_client.xdel("st", "5-0")
    assert await snapshot(redis_client) != before
