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


async def started_payloads(store: Store) -> dict[str, bytes]:
    """Fetch and start everything queued; each started job's payload, by job id."""
    fetched = (await store.fetch(Q, PRIORITIES, "w1", 100)).deliveries
    return {d.job_id: d.payload for d in await store.start("w1", fetched)}


async def assert_read_whole(store: Store, redis: Redis, job_id: str, payload: bytes) -> None:
    """Every reader of the record gets the payload back whole: the job, a listing page and
    the history row the archive would make of the record."""
    job = await store.get_job([Q], job_id)
    assert job is not None and job.payload == orjson.loads(payload)
    [summary] = await store.job_summaries(Q, [job_id], 4096)
    assert summary is not None
    if len(payload) <= 4096:
        assert summary.payload == orjson.loads(payload) and not summary.payload_omitted
    else:
        assert summary.payload is None and summary.payload_omitted
    record = await redis.hgetall(store.keys(Q).job(job_id))
    row = to_row(Q, {b"id": job_id.encode(), **record})
    assert orjson.loads(row[COLUMNS.index("payload")]) == orjson.loads(payload)


SIZES = [10, 64, 65, 100, 128, 256, 257, 1000, 2048, 2049, 5000]
"""Around one piece (64), the most read with the record's other fields (4 x 64), the most
kept in pieces (32 x 64) and past it."""


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
    pieces = await redis_client.hget(k.job(job_id), "payload.n")
    assert pieces == (None if size <= 64 or size > 2048 else str(-(-size // 64)).encode())
    [(_, fields)] = await redis_client.xrange(k.stream("normal"))
    assert b"payload" not in fields and fields[b"id"] == job_id.encode()

    assert await started_payloads(store) == {job_id: payload}
    await assert_read_whole(store, redis_client, job_id, payload)


async def test_multibyte_text_split_inside_a_character_comes_back_intact(
    store: Store, redis_client: Redis
) -> None:
    payload = orjson.dumps({"ab": "é" * 150})  # an odd-length prefix, then 2-byte characters
    assert payload[64] & 0xC0 == 0x80  # piece 1 starts inside a character
    await store.ensure_groups(Q)
    await store.enqueue([EnqueueSpec(Q, "j", "t", payload, "normal", 3, 30.0)])
    assert await redis_client.hget(store.keys(Q).job("j"), "payload.n") == b"5"
    assert await started_payloads(store) == {"j": payload}
    await assert_read_whole(store, redis_client, "j", payload)


async def test_a_record_of_the_earlier_layout_is_read_as_before(
    store: Store, redis_client: Redis
) -> None:
    """A record written before payloads were split (one `payload` field of any size) and
    its entry (which carried the payload too) start and read as they did."""
    payload = payload_of(300)
    await store.ensure_groups(Q)
    await store.enqueue([EnqueueSpec(Q, "old", "t", payload_of(10), "normal", 3, 30.0)])
    k = store.keys(Q)
    await redis_client.hset(k.job("old"), "payload", payload)
    await redis_client.xadd(k.stream("high"), {"id": "old", "type": "t", "payload": payload,
                                               "timeout": "30.0", "retries": "3", "enq": "1"})
    await redis_client.delete(k.stream("normal"))
    await store.ensure_groups(Q)
    assert await started_payloads(store) == {"old": payload}
    await assert_read_whole(store, redis_client, "old", payload)


async def test_a_record_missing_a_piece_starts_with_what_is_left_and_fails_nothing_else(
    store: Store, redis_client: Redis
) -> None:
    """A damaged record (a piece deleted by hand) gives its attempt the pieces left, which
    the worker then refuses as an invalid payload; the other jobs of the batch start."""
    await store.ensure_groups(Q)
    good, damaged = payload_of(700), payload_of(700)
    await store.enqueue([EnqueueSpec(Q, "good", "t", good, "normal", 3, 30.0),
                         EnqueueSpec(Q, "damaged", "t", damaged, "normal", 3, 30.0)])
    await redis_client.hdel(store.keys(Q).job("damaged"), "payload.6")
    started = await started_payloads(store)
    assert started["good"] == good
    assert started["damaged"] == damaged[: 6 * 64] + damaged[7 * 64 :]


async def test_a_delayed_job_starts_with_its_payload_after_promotion(
    store: Store, redis_client: Redis
) -> None:
    payload = payload_of(700)
    await store.ensure_groups(Q)
    await store.enqueue([EnqueueSpec(Q, "later", "t", payload, "normal", 3, 30.0,
                                     delay_ms=1)])
    await redis_client.zadd(store.keys(Q).scheduled, {"later": 0})  # due now, whatever the clock
    await store.promote(Q, 10)
    assert await started_payloads(store) == {"later": payload}
