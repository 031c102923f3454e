"""promote.lua: due jobs move from `scheduled` into their stream, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from streamq.scripts import Scripts
from streamq.settings import Settings
from streamq.store import Store

from .conftest import Table
from .redis_state import (
    ANY_ID,
    EVENTS_MAX,
    NOW,
    K,
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


async def promote(scripts: Scripts, *job_ids: str) -> Any:
    return text(await scripts.promote(
        keys=[*K.streams, K.scheduled, K.index("scheduled"), K.index("retrying"),
              K.index("queued"), K.events, *(K.job(j) for j in job_ids)],
        args=[NOW, EVENTS_MAX],
    ))


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
    pytest.param(waiting(NOW - 1), ["j1"], [1, -1, NOW], promoted(due=NOW - 1), id="due"),
    pytest.param(waiting(NOW), ["j1"], [1, -1, NOW], promoted(due=NOW), id="due-exactly-now"),
    pytest.param(
        waiting(NOW + 1), ["j1"], [0, NOW + 1, NOW], waiting(NOW + 1), id="not-due-yet",
    ),
    pytest.param(
        waiting(NOW - 1, status="retrying", attempt=2, priority="high", error="boom"), ["j1"],
        [1, -1, NOW],
        promoted(frm="retrying", priority="high", attempt=2, due=NOW - 1, error="boom"),
        id="retry-due-goes-to-its-priority-stream",
    ),
    pytest.param(
        {**waiting(NOW - 1), K.job("j2"): record("scheduled", due=NOW + 5_000),
         K.scheduled: ZSet({"j1": NOW - 1, "j2": NOW + 5_000}),
         K.index("scheduled"): ZSet({"j1": NOW - 1000, "j2": NOW - 1000})},
        ["j1", "j2"], [1, NOW + 5_000, NOW],
        {**promoted(due=NOW - 1), K.job("j2"): record("scheduled", due=NOW + 5_000),
         K.scheduled: ZSet({"j2": NOW + 5_000}), K.index("scheduled"): ZSet({"j2": NOW - 1000})},
        id="due-one-moves-later-one-stays-and-is-next",
    ),
    pytest.param(
        {**waiting(NOW - 2), K.job("j2"): record("scheduled", due=NOW - 1),
         K.scheduled: ZSet({"j1": NOW - 2, "j2": NOW - 1}),
         K.index("scheduled"): ZSet({"j1": NOW - 1000, "j2": NOW - 1000})},
        ["j1"], [1, NOW - 1, NOW],
        {**promoted(due=NOW - 2), K.job("j2"): record("scheduled", due=NOW - 1),
         K.scheduled: ZSet({"j2": NOW - 1}), K.index("scheduled"): ZSet({"j2": NOW - 1000})},
        id="only-the-batch-passed-moves-next-due-says-more-are-due",
    ),
    pytest.param(
        {K.scheduled: ZSet({"j1": NOW - 1})}, ["j1"], [0, -1, NOW], {},
        id="record-expired-id-dropped",
    ),
    pytest.param(
        {K.job("j1"): record("cancelled"), K.scheduled: ZSet({"j1": NOW - 1})}, ["j1"],
        [0, -1, NOW], {K.job("j1"): record("cancelled")}, id="not-waiting-anymore-dropped",
    ),
    pytest.param(
        {K.job("j1"): record("queued")}, ["j1"], [0, -1, NOW],
        {K.job("j1"): record("queued")}, id="already-promoted-by-another-scheduler",
    ),
]


@pytest.mark.parametrize(("before", "jobs", "reply", "after"), CASES)
async def test_promote(
    table: Table, before: State, jobs: list[str], reply: list[int], after: State
) -> None:
    await table.check(before, lambda: promote(table.scripts, *jobs), reply, after)


async def test_promote_twice_moves_once(redis_client: Redis, scripts: Scripts) -> None:
    await seed(redis_client, waiting(NOW - 1))
    assert await promote(scripts, "j1") == [1, -1, NOW]
    assert await promote(scripts, "j1") == [0, -1, NOW]
    assert await read_state(redis_client) == promoted(due=NOW - 1)


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
