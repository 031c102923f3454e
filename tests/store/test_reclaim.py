"""reclaim.lua: entries taken from a lost worker are requeued | dead-lettered ('lost worker')
after max deliveries | dropped when stale | left alone when no longer ours.

Through the store's three callers of the script: the reclaimer's XAUTOCLAIM page
(`reclaim`: entries idle past the visibility timeout are moved to the reclaimer, and
entries deleted while pending are recovered from their records), and a stopping node
handing its own entries back (`hand_back`: not counted as a lost delivery)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from redis.asyncio import Redis

from streamq.job import Outcome, OutcomeKind
from streamq.store import ReclaimResult, Store

from .conftest import Table
from .redis_state import (
    ANY_ID,
    FAILED_TTL_MS,
    NORMAL,
    NOW,
    TYPE,
    K,
    Pending,
    Q,
    State,
    Stream,
    Ttl,
    ZSet,
    delivery,
    entry,
    event,
    events,
    read_state,
    record,
    running,
    seed,
    text,
    unwrap,
)

RC = "rc"
"""The reclaimer's consumer: XAUTOCLAIM moves the entries to it before the script runs."""
IDLE = 60_000
"""How long the lost worker's entries have idled: past the visibility timeout."""


async def reclaim(store: Store) -> ReclaimResult:
    """One XAUTOCLAIM page of the normal stream, taken by RC, and its script."""
    result, _ = await store.reclaim(Q, "normal", RC, min_idle_ms=IDLE // 2)
    return result


async def hand_back(store: Store) -> ReclaimResult:
    """Node w1 stops and gives back the attempt of j1 it believes it holds (entry 1-0)."""
    return await store.hand_back("w1", [delivery("j1", "1-0")])


LOST = Stream([("1-0", entry("j1"))], {"1-0": Pending("w1", IDLE)}, "1-0")
"""j1's entry, pending under the lost worker w1 for a minute."""
HELD = Stream([("1-0", entry("j1"))], {"1-0": "w1"}, "1-0")
"""j1's entry, pending under a live node w1."""
GHOST = Stream([], {"1-0": Pending("w1", IDLE)}, "1-0")
"""j1's entry deleted (XDEL, XTRIM) while pending under the lost worker."""
GONE = Stream([], {}, "1-0")
"""The stream once the entry is acknowledged and deleted (or deleted while pending)."""
FRESH = Stream([(ANY_ID, entry("j1", enq=NOW))], {}, "1-0")
"""The stream holding the job's new entry, not delivered yet."""
PROCESSING = ZSet({"j1": NOW - 500})


def lost_job(stream: Stream = LOST, **fields: object) -> State:
    return {K.job("j1"): running(**fields), NORMAL: stream, K.index("processing"): PROCESSING}


def requeued(lost: int, frm: str = "processing", worker: str = "w1") -> State:
    return {
        K.job("j1"): running(status="queued", lost=lost),
        NORMAL: FRESH,
        K.index("queued"): ZSet({"j1": NOW}),
        K.events: events(event("j1", frm, "queued", worker=worker)),
    }


def dead_lettered(stream: Stream = GONE) -> State:
    return {
        K.job("j1"): Ttl(running(
            status="failed", lost=3, reason="lost worker", error_type="LostWorker",
            error="the worker running this job was lost 3 times", finished=NOW,
        ), FAILED_TTL_MS // 1000),
        NORMAL: stream,
        K.dead: Stream([(ANY_ID, {
            "job": "j1", "type": "email.send", "reason": "lost worker",
            "error_type": "LostWorker", "error": "worker lost", "attempt": "1",
            "time": str(NOW),
        })]),
        K.index("failed"): ZSet({"j1": NOW}),
        K.events: events(event("j1", "processing", "failed", worker="w1")),
    }


STALE = lost_job(entry="2-0")
SUCCEEDED = Ttl(running(status="succeeded", result="1", finished=NOW - 1), 60)
NEVER_STARTED = {K.job("j1"): record("queued"), NORMAL: LOST,
                 K.index("queued"): ZSet({"j1": NOW - 1000})}
TAKEN = lost_job(Stream([("1-0", entry("j1"))], {"1-0": "other-node"}, "1-0"))
ACKED = lost_job(Stream([("1-0", entry("j1"))], {}, "1-0"))

CASES = [
    pytest.param(
        lost_job(), reclaim, ReclaimResult(requeued=1), requeued(lost=1),
        id="requeued-as-a-fresh-entry",
    ),
    pytest.param(
        lost_job(lost=1), reclaim, ReclaimResult(requeued=1), requeued(lost=2),
        id="requeued-below-max-deliveries",
    ),
    pytest.param(lost_job(lost=2), reclaim,
                 ReclaimResult(dead=1, dead_jobs=(("j1", TYPE),)), dead_lettered(),
                 id="dead-lettered-lost-worker-at-max-deliveries"),
    pytest.param(
        lost_job(HELD, lost=2), hand_back, ReclaimResult(requeued=1), requeued(lost=2),
        id="handed-back-by-a-stopping-node-not-counted",
    ),
    pytest.param(
        NEVER_STARTED, reclaim, ReclaimResult(requeued=1),
        {**requeued(lost=0, frm="queued", worker=""), K.job("j1"): record("queued")},
        id="fetched-never-started-requeued-not-counted",
    ),
    pytest.param({NORMAL: LOST}, reclaim, ReclaimResult(dropped=1), {NORMAL: GONE},
                 id="job-missing-dropped"),
    pytest.param(
        {**lost_job(), K.job("j1"): SUCCEEDED}, reclaim, ReclaimResult(dropped=1),
        {K.job("j1"): SUCCEEDED, NORMAL: GONE, K.index("processing"): PROCESSING},
        id="finished-meanwhile-dropped",
    ),
    pytest.param(
        STALE, reclaim, ReclaimResult(dropped=1), {**STALE, NORMAL: GONE},
        id="stale-entry-of-a-rerun-job-dropped",
    ),
    pytest.param(TAKEN, hand_back, ReclaimResult(), TAKEN, id="not-owned-anymore-left-alone"),
    pytest.param(ACKED, hand_back, ReclaimResult(), ACKED,
                 id="not-pending-anymore-left-alone"),
    pytest.param(
        lost_job(GHOST), reclaim, ReclaimResult(requeued=1, deleted_seen=1), requeued(lost=1),
        id="deleted-while-pending-recovered-from-record",
    ),
    pytest.param(
        lost_job(GHOST, lost=2), reclaim,
        ReclaimResult(dead=1, deleted_seen=1, dead_jobs=(("j1", TYPE),)),
        dead_lettered(), id="deleted-while-pending-dead-lettered-at-max",
    ),
    pytest.param(
        {**lost_job(GHOST), K.job("j1"): running(status="queued")}, reclaim,
        ReclaimResult(dropped=1, deleted_seen=1),
        {**lost_job(GONE), K.job("j1"): running(status="queued")},
        id="deleted-while-pending-not-running-anymore-dropped",
    ),
]


@pytest.mark.parametrize(("before", "call", "reply", "after"), CASES)
async def test_reclaim(
    table: Table, before: State, call: Callable[[Store], Awaitable[ReclaimResult]],
    reply: ReclaimResult, after: State,
) -> None:
    await table.check(before, lambda: call(table.store), reply, after)


async def test_reclaim_batch_counts_each_fate(table: Table) -> None:
    await seed(table.redis, {
        K.job("a"): running(entry="1-0"),
        K.job("b"): running(entry="2-0", lost=2),
        K.job("c"): running(entry="9-0"),
        NORMAL: Stream([("1-0", entry("a")), ("2-0", entry("b")), ("3-0", entry("c"))],
                       {i: Pending("w1", IDLE) for i in ("1-0", "2-0", "3-0")}, "3-0"),
    })
    assert await reclaim(table.store) == ReclaimResult(1, 1, 1, dead_jobs=(("b", TYPE),))
    state = await read_state(table.redis)
    assert state[NORMAL] == Stream([(ANY_ID, entry("a", enq=NOW))], {}, "3-0")
    assert [unwrap(state[K.job(j)])["status"] for j in "abc"] == [
        "queued", "failed", "processing"
    ]


@pytest.mark.parametrize("holder", ["w1", RC])
async def test_lease_lost_race_job_is_given_back_not_cancelled(table: Table, holder: str) -> None:
    """Node B's reclaimer takes the entry; node A's heartbeat sees the lease lost and stops
    the handler. A's `cancelled` outcome lands before B's XAUTOCLAIM (the entry still
    pending under w1) or after it (pending under RC): either way it writes nothing, and B
    gives the job back."""
    await seed(table.redis, lost_job(Stream([("1-0", entry("j1"))],
                                            {"1-0": Pending(holder, IDLE)}, "1-0")))
    stopped = Outcome(delivery("j1", "1-0"), OutcomeKind.CANCELLED, reason="cancelled")
    assert await table.store.finish([stopped]) == [0]
    assert await reclaim(table.store) == ReclaimResult(requeued=1)
    assert await read_state(table.redis) == requeued(lost=1)


# -- through the store: XAUTOCLAIM's reply, read raw ------------------------------------------


async def test_store_reclaims_idle_entries_only(
    redis_client: Redis, store: Store
) -> None:
    await seed(redis_client, {
        K.job("a"): running(entry="1-0"),
        K.job("b"): running(entry="2-0", worker="w2"),
        NORMAL: Stream([("1-0", entry("a")), ("2-0", entry("b"))],
                       {"1-0": Pending("w1", idle_ms=60_000), "2-0": Pending("w2", idle_ms=10)},
                       "2-0"),
        K.index("processing"): ZSet({"a": NOW, "b": NOW}),
    })
    result, cursor = await store.reclaim("q", "normal", RC, min_idle_ms=30_000)
    assert (result, text(cursor)) == (ReclaimResult(requeued=1), "0-0")
    state = await read_state(redis_client)
    assert text(state[K.job("a")]["status"]) == "queued"
    assert state[K.job("b")] == running(entry="2-0", worker="w2")
    assert state[NORMAL].pending == {"2-0": "w2"}
    assert [e[1]["id"] for e in state[NORMAL].entries] == ["b", "a"]


async def test_store_recovers_jobs_whose_pending_entry_was_deleted(
    redis_client: Redis, store: Store
) -> None:
    """XAUTOCLAIM's third element lists entries deleted while pending (an XTRIM, an XDEL):
    the job is found through the processing index and given back."""
    await seed(redis_client, {
        K.job("a"): running(entry="1-0"),
        NORMAL: Stream([], {"1-0": Pending("w1", idle_ms=60_000)}, "1-0"),
        K.index("processing"): ZSet({"a": NOW}),
    })
    result, _ = await store.reclaim("q", "normal", RC, min_idle_ms=30_000)
    assert result == ReclaimResult(requeued=1, deleted_seen=1)
    state = await read_state(redis_client)
    assert state[K.job("a")]["status"] == "queued"
    assert state[K.job("a")]["lost"] == "1"
    assert state[NORMAL] == Stream([(ANY_ID, {**entry("a"), "enq": ANY_ID})], {}, "1-0")
