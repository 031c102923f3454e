"""release.lua: slots of finished jobs freed | expired leases dropped | parked jobs given
back to their priority's stream (with a fresh lease) while slots are free, oldest first |
parked jobs no longer queued, or no longer waiting, are not given back.

The store hands the script the head of the waiting set as candidates, read just before."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from streamq.job import Delivery
from streamq.store import ReleaseResult, Store

from .conftest import Table
from .redis_state import (
    ANY_ID,
    HIGH,
    LEASE_MS,
    LIMIT,
    NORMAL,
    NOW,
    RANK,
    RUNNING,
    TYPE,
    WAITING,
    K,
    Q,
    State,
    Stream,
    ZSet,
    entry,
    read_state,
    record,
    seed,
    text,
)

LEASE = NOW + LEASE_MS
"""The lease a given-back job holds until it is fetched and admitted."""


async def release(store: Store, finished: list[str], limit: int = LIMIT) -> ReleaseResult:
    """Release the slots of `finished` jobs of TYPE, and give parked ones back."""
    return await store.release(Q, TYPE, limit, finished)


def parked(*job_ids: str) -> ZSet:
    """Waiting jobs of the normal priority, parked one ms apart, in the order given."""
    return ZSet({j: RANK["normal"] + NOW - 100 + i for i, j in enumerate(job_ids)})


QUEUED = record("queued")


def given_back(*job_ids: str) -> Stream:
    """A stream holding fresh entries of `job_ids`, not delivered yet."""
    return Stream([(ANY_ID, entry(j, enq=NOW)) for j in job_ids])


CASES = [
    pytest.param(
        {RUNNING: ZSet({"j1": NOW + 5_000})}, ["j1"], ReleaseResult(0, 0, 0), {},
        id="finished-slot-freed-nobody-waiting",
    ),
    pytest.param(
        {RUNNING: ZSet({"a": NOW + 5_000, "b": NOW + 5_000}), WAITING: parked("p1"),
         K.job("p1"): QUEUED},
        ["a"], ReleaseResult(1, 2, 0),
        {RUNNING: ZSet({"b": NOW + 5_000, "p1": LEASE}), K.job("p1"): QUEUED,
         NORMAL: given_back("p1")},
        id="freed-slot-goes-to-a-parked-job-put-back-in-its-stream",
    ),
    pytest.param(
        {WAITING: parked("p1", "p2", "p3"), **{K.job(j): QUEUED for j in ("p1", "p2", "p3")}},
        [], ReleaseResult(2, 2, 1),
        {RUNNING: ZSet({"p1": LEASE, "p2": LEASE}),
         WAITING: ZSet({"p3": parked("p1", "p2", "p3")["p3"]}),
         **{K.job(j): QUEUED for j in ("p1", "p2", "p3")}, NORMAL: given_back("p1", "p2")},
        id="as-many-given-back-as-slots-free-oldest-first",
    ),
    pytest.param(
        {RUNNING: ZSet({"a": NOW - 1, "b": NOW + 5_000}), WAITING: parked("p1"),
         K.job("p1"): QUEUED},
        [], ReleaseResult(1, 2, 0),
        {RUNNING: ZSet({"b": NOW + 5_000, "p1": LEASE}), K.job("p1"): QUEUED,
         NORMAL: given_back("p1")},
        id="expired-lease-of-a-dead-node-frees-its-slot",
    ),
    pytest.param(
        {RUNNING: ZSet({"a": NOW + 5_000, "b": NOW + 5_000}), WAITING: parked("p1"),
         K.job("p1"): QUEUED},
        ["gone"], ReleaseResult(0, 2, 1),
        {RUNNING: ZSet({"a": NOW + 5_000, "b": NOW + 5_000}), WAITING: parked("p1"),
         K.job("p1"): QUEUED},
        id="no-free-slot-nothing-given-back",
    ),
    pytest.param(
        {WAITING: parked("p1", "p2"), K.job("p1"): record("cancelled"), K.job("p2"): QUEUED},
        [], ReleaseResult(1, 1, 0),
        {RUNNING: ZSet({"p2": LEASE}), K.job("p1"): record("cancelled"), K.job("p2"): QUEUED,
         NORMAL: given_back("p2")},
        id="cancelled-while-parked-dropped-not-given-back",
    ),
    pytest.param(
        {WAITING: parked("p1", "p2"), K.job("p2"): QUEUED},
        [], ReleaseResult(1, 1, 0),
        {RUNNING: ZSet({"p2": LEASE}), K.job("p2"): QUEUED, NORMAL: given_back("p2")},
        id="record-expired-while-parked-dropped",
    ),
    pytest.param(
        {K.job("p1"): QUEUED}, [], ReleaseResult(0, 0, 0), {K.job("p1"): QUEUED},
        id="given-back-by-another-node-meanwhile-nothing-waiting",
    ),
    pytest.param(
        {WAITING: ZSet({"p1": RANK["high"] + NOW}), K.job("p1"): record("queued",
                                                                          priority="high")},
        [], ReleaseResult(1, 1, 0),
        {RUNNING: ZSet({"p1": LEASE}), K.job("p1"): record("queued", priority="high"),
         HIGH: given_back("p1")},
        id="given-back-to-its-own-priority-stream",
    ),
]


@pytest.mark.parametrize(("before", "finished", "reply", "after"), CASES)
async def test_release(
    table: Table, before: State, finished: list[str], reply: ReleaseResult, after: State
) -> None:
    await table.check(before, lambda: release(table.store, finished), reply, after)


async def test_concurrent_releases_give_each_parked_job_back_once(table: Table) -> None:
    """Nodes read the same head of the waiting set before their scripts run: ZREM inside
    the script decides which one gives a job back."""
    parked_ids = [f"p{i}" for i in range(6)]
    await seed(table.redis, {WAITING: parked(*parked_ids),
                             **{K.job(j): QUEUED for j in parked_ids}})
    stores = [table.store_with() for _ in range(4)]
    results = await asyncio.gather(*(release(s, [], limit=10) for s in stores))
    assert sum(r.given_back for r in results) == 6
    state = await read_state(table.redis)
    assert sorted(e[1]["id"] for e in state[NORMAL].entries) == parked_ids
    assert state[RUNNING] == ZSet(dict.fromkeys(parked_ids, LEASE))


async def test_store_parks_at_the_limit_and_release_gives_back_in_priority_order(
    redis_client: Redis, store: Store
) -> None:
    """Through the store (Redis time): admit parks, a finished job's release gives back the
    parked high job before an older normal one."""
    low_ids = ("j1", "j2", "j3")
    await seed(redis_client, {
        **{K.job(j): QUEUED for j in low_ids},
        K.job("h1"): record("queued", priority="high"),
        NORMAL: Stream([(f"{i}-0", entry(j)) for i, j in enumerate(low_ids, 1)],
                       {"1-0": "w1", "2-0": "w1", "3-0": "w1"}, "3-0"),
        HIGH: Stream([("9-0", entry("h1"))], {"9-0": "w1"}, "9-0"),
    })

    def delivery(priority: str, entry_id: str, job_id: str) -> Delivery:
        return Delivery("q", priority, entry_id.encode(), job_id, TYPE, b"{}", 30.0, 3, 1, 0, 1)

    normal = [delivery("normal", f"{i}-0", j) for i, j in enumerate(low_ids, 1)]
    assert await store.admit("q", "normal", TYPE, 1, normal) == [True, False, False]
    assert await store.admit("q", "high", TYPE, 1, [delivery("high", "9-0", "h1")]) == [False]
    assert text(await redis_client.zrange(WAITING, 0, -1)) == ["h1", "j2", "j3"]

    assert await store.release("q", TYPE, 1, ["j1"]) == ReleaseResult(1, 1, 2)
    state = await read_state(redis_client)
    assert [e[1]["id"] for e in state[HIGH].entries] == ["h1"]
    assert text(await redis_client.zrange(RUNNING, 0, -1)) == ["h1"]
    assert text(await redis_client.zrange(WAITING, 0, -1)) == ["j2", "j3"]
