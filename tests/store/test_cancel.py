"""cancel.lua: each unfinished status -> cancelled (the store answers the previous status)
| finished -> InvalidTransition | missing -> JobNotFound."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from streamq.errors import InvalidTransition, JobNotFound
from streamq.store import Store

from .conftest import Publishes, Raises, Table
from .redis_state import (
    FAILED_TTL_MS,
    NORMAL,
    NOW,
    K,
    Q,
    State,
    Stream,
    Ttl,
    ZSet,
    entry,
    event,
    events,
    record,
    running,
    seed,
)

CHANNEL = "streamq:cancel"




def cancelled(job: dict[str, str], frm: str, attempt: int = 1, worker: str = "") -> State:
    return {
        K.job("j1"): Ttl({**job, "status": "cancelled", "reason": "cancelled",
                          "finished": str(NOW)}, FAILED_TTL_MS // 1000),
        K.index("cancelled"): ZSet({"j1": NOW}),
        K.events: events(event("j1", frm, "cancelled", attempt, worker=worker)),
    }


SCHEDULED = record("scheduled", due=NOW + 60_000)
QUEUED = record("queued")
QUEUED_ENTRY = Stream([("1-0", entry("j1"))], {}, "0-0")
RUNNING_ENTRY = Stream([("1-0", entry("j1"))], {"1-0": "w1"}, "1-0")
RETRYING = running(status="retrying", attempt=2, due=NOW + 5_000, error="boom")
OTHER_WAITING = ZSet({"j0": NOW + 1})

CASES = [
    pytest.param(
        {K.job("j1"): SCHEDULED, K.scheduled: ZSet({"j1": NOW + 60_000, **OTHER_WAITING}),
         K.index("scheduled"): ZSet({"j1": NOW - 1000})},
        "scheduled",
        {**cancelled(SCHEDULED, "scheduled"), K.scheduled: OTHER_WAITING}, [],
        id="scheduled-leaves-the-zset",
    ),
    pytest.param(
        {K.job("j1"): QUEUED, NORMAL: QUEUED_ENTRY,
         K.index("queued"): ZSet({"j1": NOW - 1000})},
        "queued",
        {**cancelled(QUEUED, "queued"), NORMAL: QUEUED_ENTRY}, [],
        id="queued-entry-stays-for-start-to-skip",
    ),
    pytest.param(
        {K.job("j1"): running(), NORMAL: RUNNING_ENTRY,
         K.index("processing"): ZSet({"j1": NOW - 500})},
        "processing",
        {**cancelled(running(), "processing", worker="w1"), NORMAL: RUNNING_ENTRY},
        [(CHANNEL, "j1")], id="processing-node-told-to-stop-entry-stays-pending",
    ),
    pytest.param(
        {K.job("j1"): RETRYING, K.scheduled: ZSet({"j1": NOW + 5_000}),
         K.index("retrying"): ZSet({"j1": NOW - 100})},
        "retrying", cancelled(RETRYING, "retrying", attempt=2, worker="w1"), [],
        id="retrying-leaves-the-zset",
    ),
    pytest.param(
        {K.job("j1"): QUEUED, K.index("queued"): ZSet({"j1": NOW - 1000}),
         K.index("cancelled"): ZSet({"old": NOW - FAILED_TTL_MS,
                                     "young": NOW - FAILED_TTL_MS + 1})},
        "queued",
        {**cancelled(QUEUED, "queued"),
         K.index("cancelled"): ZSet({"young": NOW - FAILED_TTL_MS + 1, "j1": NOW})},
        [], id="cancelled-index-trimmed-past-retention",
    ),
    pytest.param({}, Raises(JobNotFound, {"job_id": "j1"}), {}, [], id="job-missing"),
]

FINISHED = ["succeeded", "failed", "cancelled"]


@pytest.mark.parametrize(("before", "reply", "after", "published"), CASES)
async def test_cancel(
    table: Table, publishes: Publishes, before: State, reply: str | Raises, after: State,
    published: list[tuple[str, str]],
) -> None:
    await table.check(before, lambda: table.store.cancel(Q, "j1"), reply, after)
    assert await publishes.taken() == published


@pytest.mark.parametrize("status", FINISHED)
async def test_cancel_of_a_finished_job_changes_nothing(
    table: Table, publishes: Publishes, status: str
) -> None:
    before = {K.job("j1"): Ttl(running(status=status, finished=NOW - 1), 60),
              K.index(status): ZSet({"j1": NOW - 1})}
    refused = Raises(InvalidTransition, {"job_id": "j1", "status": status})
    await table.check(before, lambda: table.store.cancel(Q, "j1"), refused, before)
    assert await publishes.taken() == []


async def test_store_cancel_publishes_on_the_shared_channel(
    redis_client: Redis, publishes: Publishes, store: Store
) -> None:
    await seed(redis_client, {K.job("j1"): running()})
    assert await store.cancel("q", "j1") == "processing"
    with pytest.raises(InvalidTransition) as finished:
        await store.cancel("q", "j1")
    assert finished.value.detail["status"] == "cancelled"
    with pytest.raises(JobNotFound):
        await store.cancel("q", "nope")
    assert await publishes.taken() == [(store.cancel_channel, "j1")]
    assert store.cancel_channel == CHANNEL
