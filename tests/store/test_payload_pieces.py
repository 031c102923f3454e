"""A payload is stored once, in the job record, in 64-byte pieces while it is short enough
for the record to keep Redis's compact hash encoding; stream entries do not repeat it, and
the start script hands it to the worker whole."""

from __future__ import annotations

import orjson
import pytest
from redis.asyncio import Redis

from streamq.history.rows import COLUMNS, to_row
from streamq.keys import PRIORITIES
from streamq.store import EnqueueSpec, Store

Q = "pieces"


def payload_of(size: int, char: str = "x") -> bytes:
    """A JSON object of exactly `size` bytes (`char` may take two bytes in UTF-8)."""
    head = b'{"s":""}'
    body = char * ((size - len(head)) // len(char.encode()))
    out = orjson.dumps({"s": body})
    return out + b" " * (size - len(out))


SIZES = [10, 64, 65, 100, 1000, 2048, 2049, 5000]
"""Around the piece size (64), the largest payload kept in pieces (32 x 64) and past it."""


@pytest.mark.parametrize("size", SIZES)
async def test_a_payload_reaches_the_worker_and_readers_whole(
    store: Store, redis_client: Redis, size: int
) -> None:
    payload = payload_of(size)
    await store.ensure_groups(Q)
    job_id = f"job-{size}"
    await store.enqueue([EnqueueSpec(Q, job_id, "t", payload, "normal", 3, 30.0)])
    k = store.keys(Q)

    encoding = await redis_client.object("encoding", k.job(job_id))
    assert encoding == (b"listpack" if size <= 2048 else b"hashtable")
    [(_, fields)] = await redis_client.xrange(k.stream("normal"))
    assert b"payload" not in fields and fields[b"id"] == job_id.encode()

    fetched = (await store.fetch(Q, PRIORITIES, "w1", 10)).deliveries
    [started] = await store.start("w1", fetched)
    assert started.payload == payload and started.run == 1

    job = await store.get_job([Q], job_id)
    assert job is not None and job.payload == orjson.loads(payload)
    [summary] = await store.job_summaries(Q, [job_id], 4096)
    assert summary is not None
    if size <= 4096:
        assert summary.payload == orjson.loads(payload) and not summary.payload_omitted
    else:
        assert summary.payload is None and summary.payload_omitted


async def test_multibyte_text_split_inside_a_character_comes_back_intact(
    store: Store, redis_client: Redis
) -> None:
    payload = payload_of(301, "é")  # a piece boundary falls inside a two-byte character
    await store.ensure_groups(Q)
    await store.enqueue([EnqueueSpec(Q, "j", "t", payload, "normal", 3, 30.0)])
    assert await redis_client.hget(store.keys(Q).job("j"), "payload.n") == b"5"
    [started] = await store.start("w1", (await store.fetch(Q, PRIORITIES, "w1", 10)).deliveries)
    assert started.payload == payload


async def test_a_delayed_job_starts_with_its_payload_after_promotion(
    store: Store, redis_client: Redis
) -> None:
    payload = payload_of(700)
    await store.ensure_groups(Q)
    await store.enqueue([EnqueueSpec(Q, "later", "t", payload, "normal", 3, 30.0,
                                     delay_ms=1)])
    k = store.keys(Q)
    await redis_client.zadd(k.scheduled, {"later": 0})  # due now, whatever the clock
    await store.promote(Q, 10)
    [started] = await store.start("w1", (await store.fetch(Q, PRIORITIES, "w1", 10)).deliveries)
    assert started.job_id == "later" and started.payload == payload


async def test_the_history_row_of_a_record_holds_the_payload_whole(
    store: Store, redis_client: Redis
) -> None:
    payload = payload_of(500)
    await store.enqueue([EnqueueSpec(Q, "arch", "t", payload, "normal", 3, 30.0)])
    record = await redis_client.hgetall(store.keys(Q).job("arch"))
    assert b"payload" not in record  # kept in pieces, as the archive stream copies it
    row = to_row(Q, {b"id": b"arch", **record})
    assert orjson.loads(row[COLUMNS.index("payload")]) == orjson.loads(payload)
