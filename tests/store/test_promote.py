"""promote.lua: due jobs move from `scheduled` into their stream, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from streamq.settings import Settings
from streamq.store import PromoteResult, Store

from .conftest import Table
from .redis_state import (
    ANY_ID,
    NOW,
    K,
    Q,
    State,
    Stream,
    ZSet,
    entry,
    event,
    events,
    read_state,
    record,
    seed,
    text,
)


def moved(promoted: int, next_due: int | None = None) -> PromoteResult:
    """The store's answer at NOW: jobs promoted, and when the next one is due."""
    return PromoteResult(promoted, next_due, NOW)


def waiting(due: int, job_id: str = "j1", status: str = "scheduled", **fields: object) -> State:
    """A job waiting in `scheduled` until `due`."""
    return {
        K.job(job_id): record(status, due=due, **fields),
        K.scheduled: ZSet({job_id: due}),
        K.index(status): ZSet({job_id: NOW - 1000}),
    }


def promoted(job_id: str = "j1", frm: str = "scheduled", priority: str = "normal",
             attempt: int = 1, **fields: object) -> State:
    return {
        K.job(job_id): record("queued", priority=priority, attempt=attempt, **fields),
        K.stream(priority): Stream([(ANY_ID, entry(job_id, enq=NOW))]),
        K.index("queued"): ZSet({job_id: NOW}),
        K.events: events(event(job_id, frm, "queued", attempt=attempt)),
    }


CASES = [
    pytest.param(waiting(NOW - 1), 500, moved(1), promoted(due=NOW - 1), id="due"),
    pytest.param(waiting(NOW), 500, moved(1), promoted(due=NOW), id="due-exactly-now"),
    pytest.param(
        waiting(NOW + 1), 500, moved(0, NOW + 1), waiting(NOW + 1), id="not-due-yet",
    ),
    pytest.param(
        waiting(NOW - 1, status="retrying", attempt=2, priority="high", error="boom"), 500,
        moved(1),
        promoted(frm="retrying", priority="high", attempt=2, due=NOW - 1, error="boom"),
        id="retry-due-goes-to-its-priority-stream",
    ),
    pytest.param(
        {**waiting(NOW - 1), K.job("j2"): record("scheduled", due=NOW + 5_000),
         K.scheduled: ZSet({"j1": NOW - 1, "j2": NOW + 5_000}),
         K.index("scheduled"): ZSet({"j1": NOW - 1000, "j2": NOW - 1000})},
        500, moved(1, NOW + 5_000),
        {**promoted(due=NOW - 1), K.job("j2"): record("scheduled", due=NOW + 5_000),
         K.scheduled: ZSet({"j2": NOW + 5_000}), K.index("scheduled"): ZSet({"j2": NOW - 1000})},
        id="due-one-moves-later-one-stays-and-is-next",
    ),
    pytest.param(
        {**waiting(NOW - 2), K.job("j2"): record("scheduled", due=NOW - 1),
         K.scheduled: ZSet({"j1": NOW - 2, "j2": NOW - 1}),
         K.index("scheduled"): ZSet({"j1": NOW - 1000, "j2": NOW - 1000})},
        1, moved(1, NOW - 1),
        {**promoted(due=NOW - 2), K.job("j2"): record("scheduled", due=NOW - 1),
         K.scheduled: ZSet({"j2": NOW - 1}), K.index("scheduled"): ZSet({"j2": NOW - 1000})},
        id="only-the-batch-passed-moves-next-due-says-more-are-due",
    ),
    pytest.param(
        {K.scheduled: ZSet({"j1": NOW - 1})}, 500, moved(0), {},
        id="record-expired-id-dropped",
    ),
    pytest.param(
        {K.job("j1"): record("cancelled"), K.scheduled: ZSet({"j1": NOW - 1})}, 500,
        moved(0), {K.job("j1"): record("cancelled")}, id="not-waiting-anymore-dropped",
    ),
    pytest.param(
        {K.job("j1"): record("queued")}, 500, moved(0),
        {K.job("j1"): record("queued")}, id="already-promoted-nothing-scheduled-left-alone",
    ),
]


@pytest.mark.parametrize(("before", "batch", "reply", "after"), CASES)
async def test_promote(
    table: Table, before: State, batch: int, reply: PromoteResult, after: State
) -> None:
    """`batch`: how many of the earliest scheduled ids the store hands the script."""
    await table.check(before, lambda: table.store.promote(Q, batch), reply, after)


async def test_promote_twice_moves_once(table: Table) -> None:
    await seed(table.redis, waiting(NOW - 1))
    assert await table.store.promote(Q) == moved(1)
    assert await table.store.promote(Q) == moved(0)
    assert await read_state(table.redis) == promoted(due=NOW - 1)


async def test_concurrent_schedulers_promote_each_job_once(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    """The store reads the head of `scheduled` before its script: two schedulers read the
    same ids, and ZREM inside the script decides which one promotes."""
    await seed(redis_client, {
        **{K.job(f"j{i}"): record("scheduled", due=1) for i in range(20)},
        K.scheduled: ZSet({f"j{i}": 1 for i in range(20)}),
    })
    stores = [Store(redis_client, settings_for()) for _ in range(4)]
    results = await asyncio.gather(*(s.promote("q") for s in stores))
    assert sum(r.promoted for r in results) == 20
    assert all(r.next_due_ms is None for r in results)
    entries: list[Any] = await redis_client.xrange(K.stream("normal")) or []
    assert sorted(text(fields[b"id"]) for _, fields in entries) == sorted(
        f"j{i}" for i in range(20)
    )


async def test_a_job_named_twice_in_one_call_is_promoted_once(table: Table) -> None:
    """The script removes promoted ids from `scheduled` at its end, in one command: an id
    named twice is still in `scheduled` the second time, and its record's status (queued
    by then) must keep it from a second entry."""
    await seed(table.redis, waiting(NOW - 1))
    keys = [*K.streams, K.scheduled, K.index("scheduled"), K.index("retrying"),
            K.index("queued"), K.events, K.job("j1"), K.job("j1")]
    reply = await table.store.scripts.promote(keys=keys, args=[NOW, 1000, "j1", "j1"])
    assert [int(x) for x in reply] == [1, -1, NOW]
    assert await read_state(table.redis) == promoted(due=NOW - 1)


async def test_a_batch_past_one_command_of_members_is_sent_in_chunks(table: Table) -> None:
    """600 promotions put 1,200 score-member items into `index:queued`: more than one
    command's worth (1,000), so the script sends them in two ZADDs; none is lost."""
    ids = [f"j{i:03d}" for i in range(600)]
    await seed(table.redis, {
        **{K.job(j): record("scheduled", due=NOW - 1) for j in ids},
        K.scheduled: ZSet(dict.fromkeys(ids, NOW - 1)),
        K.index("scheduled"): ZSet(dict.fromkeys(ids, NOW - 1000)),
    })
    assert await table.store.promote(Q, 600) == moved(600)
    queued: list[Any] = await table.redis.zrange(K.index("queued"), 0, -1)
    assert sorted(text(j) for j in queued) == ids
    assert await table.redis.zcard(K.index("scheduled")) == 0
    assert await table.redis.zcard(K.scheduled) == 0
    assert await table.redis.xlen(K.stream("normal")) == 600
