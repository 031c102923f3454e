"""reclaim.lua: entries taken from a lost worker are requeued | dead-lettered ('lost worker')
after max deliveries | dropped when stale | left alone when no longer ours."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from streamq.keys import GROUP
from streamq.scripts import Scripts
from streamq.store import ReclaimResult, Store

from .conftest import Table
from .redis_state import (
    ANY_ID,
    DEAD_MAX,
    EVENTS_MAX,
    FAILED_TTL_MS,
    NORMAL,
    NOW,
    K,
    Pending,
    State,
    Stream,
    Ttl,
    ZSet,
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

MAX_DELIVERIES = 3
RC = "rc"
"""The reclaimer's consumer: XAUTOCLAIM moved the entries to it before the script runs."""


async def reclaim(
    scripts: Scripts,
    pairs: list[tuple[str, str]],
    check_owner: bool = True,
    count_lost: bool = True,
) -> Any:
    return text(await scripts.reclaim(
        keys=[NORMAL, K.dead, K.index("processing"), K.index("queued"), K.index("failed"),
              K.events, *(K.job(job_id) for job_id, _ in pairs)],
        args=[NOW, GROUP, RC, MAX_DELIVERIES, EVENTS_MAX, DEAD_MAX, FAILED_TTL_MS,
              int(check_owner), int(count_lost), *(entry_id for _, entry_id in pairs)],
    ))


CLAIMED = Stream([("1-0", entry("j1"))], {"1-0": RC}, "1-0")
GONE = Stream([], {}, "1-0")
"""The stream once the entry is acknowledged and deleted (or deleted while pending)."""
FRESH = Stream([(ANY_ID, entry("j1", enq=NOW))], {}, "1-0")
"""The stream holding the job's new entry, not delivered yet."""
PROCESSING = ZSet({"j1": NOW - 500})


def lost_job(stream: Stream = CLAIMED, **fields: object) -> State:
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
NEVER_STARTED = {K.job("j1"): record("queued"), NORMAL: CLAIMED,
                 K.index("queued"): ZSet({"j1": NOW - 1000})}
TAKEN = lost_job(Stream([("1-0", entry("j1"))], {"1-0": "other-node"}, "1-0"))
ACKED = lost_job(Stream([("1-0", entry("j1"))], {}, "1-0"))

CASES = [
    pytest.param(lost_job(), {}, [1, 0, 0], requeued(lost=1), id="requeued-as-a-fresh-entry"),
    pytest.param(
        lost_job(lost=1), {}, [1, 0, 0], requeued(lost=2), id="requeued-below-max-deliveries",
    ),
    pytest.param(lost_job(lost=2), {}, [0, 1, 0], dead_lettered(),
                 id="dead-lettered-lost-worker-at-max-deliveries"),
    pytest.param(
        lost_job(lost=2), {"count_lost": False}, [1, 0, 0], requeued(lost=2),
        id="handed-back-by-a-stopping-node-not-counted",
    ),
    pytest.param(
        NEVER_STARTED, {}, [1, 0, 0],
        {**requeued(lost=0, frm="queued", worker=""), K.job("j1"): record("queued")},
        id="fetched-never-started-requeued-not-counted",
    ),
    pytest.param({NORMAL: CLAIMED}, {}, [0, 0, 1], {NORMAL: GONE}, id="job-missing-dropped"),
    pytest.param(
        {**lost_job(), K.job("j1"): SUCCEEDED}, {}, [0, 0, 1],
        {K.job("j1"): SUCCEEDED, NORMAL: GONE, K.index("processing"): PROCESSING},
        id="finished-meanwhile-dropped",
    ),
    pytest.param(
        STALE, {}, [0, 0, 1], {**STALE, NORMAL: GONE}, id="stale-entry-of-a-rerun-job-dropped",
    ),
    pytest.param(TAKEN, {}, [0, 0, 0], TAKEN, id="not-owned-anymore-left-alone"),
    pytest.param(ACKED, {}, [0, 0, 0], ACKED, id="not-pending-anymore-left-alone"),
    pytest.param(
        lost_job(GONE), {"check_owner": False}, [1, 0, 0], requeued(lost=1),
        id="deleted-while-pending-recovered-from-record",
    ),
    pytest.param(
        lost_job(GONE, lost=2), {"check_owner": False}, [0, 1, 0], dead_lettered(),
        id="deleted-while-pending-dead-lettered-at-max",
    ),
    pytest.param(
        {**lost_job(GONE), K.job("j1"): record("queued")}, {"check_owner": False},
        [0, 0, 1], {**lost_job(GONE), K.job("j1"): record("queued")},
        id="deleted-while-pending-not-running-anymore-dropped",
    ),
]


@pytest.mark.parametrize(("before", "call", "reply", "after"), CASES)
async def test_reclaim(
    table: Table, before: State, call: dict[str, Any], reply: list[int], after: State
) -> None:
    await table.check(before, lambda: reclaim(table.scripts, [("j1", "1-0")], **call), reply, after)


async def test_reclaim_batch_counts_each_fate(redis_client: Redis, scripts: Scripts) -> None:
    await seed(redis_client, {
        K.job("a"): running(entry="1-0"),
        K.job("b"): running(entry="2-0", lost=2),
        K.job("c"): running(entry="9-0"),
        NORMAL: Stream([("1-0", entry("a")), ("2-0", entry("b")), ("3-0", entry("c"))],
                       {"1-0": RC, "2-0": RC, "3-0": RC}, "3-0"),
    })
    pairs = [("a", "1-0"), ("b", "2-0"), ("c", "3-0"), ("gone", "4-0")]
    assert await reclaim(scripts, pairs) == [1, 1, 1]
    state = await read_state(redis_client)
    assert state[NORMAL] == Stream([(ANY_ID, entry("a", enq=NOW))], {}, "3-0")
    assert [unwrap(state[K.job(j)])["status"] for j in "abc"] == [
        "queued", "failed", "processing"
    ]


async def test_lease_lost_race_job_is_given_back_not_cancelled(
    redis_client: Redis, scripts: Scripts
) -> None:
    """Node B's XAUTOCLAIM took the entry; node A's heartbeat sees the lease lost and stops
    the handler, and A's `cancelled` outcome lands before B's reclaim script runs."""
    await seed(redis_client, lost_job())
    codes = await scripts.finish(
        keys=[*K.streams, K.scheduled, K.dead, K.index("processing"),
              K.index("succeeded"), K.index("failed"), K.index("retrying"),
              K.index("cancelled"), K.events, K.job("j1")],
        args=[NOW, 1000, 1000, EVENTS_MAX, DEAD_MAX, GROUP, K.wake_channel,
              2, "1-0", 1, "cancelled", "", "", "", "", "cancelled", 0],
    )
    assert text(codes) == [0]
    assert await reclaim(scripts, [("j1", "1-0")]) == [1, 0, 0]
    assert await read_state(redis_client) == requeued(lost=1)


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
