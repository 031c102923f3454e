"""renew.lua: refresh the idle time of entries this consumer still owns; name the others."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from redis.asyncio import Redis

from streamq.job import Delivery, Outcome, OutcomeKind
from streamq.store import ReclaimResult, Store

from .conftest import Table
from .redis_state import (
    NORMAL,
    NOW,
    K,
    Pending,
    Stream,
    ZSet,
    entry,
    pending_idle_ms,
    running,
    seed,
)

IDLE = 60_000


def held(pending: Mapping[str, str], present: tuple[str, ...] = ("1-0", "2-0", "3-0")) -> Stream:
    """The normal stream with entries `present`, pending as given and idle for a minute."""
    return Stream([(i, entry(f"j{i[0]}")) for i in present],
                  {i: Pending(c, IDLE) for i, c in pending.items()}, "3-0")


def as_read(pending: Mapping[str, str], present: tuple[str, ...] = ("1-0", "2-0", "3-0")
            ) -> Stream:
    return Stream([(i, entry(f"j{i[0]}")) for i in present], dict(pending), "3-0")


MINE = {"1-0": "w1", "2-0": "w1"}

CASES = [
    pytest.param(held(MINE), ["1-0", "2-0"], [], as_read(MINE), {"1-0", "2-0"},
                 id="owned-renewed"),
    pytest.param(
        held({"1-0": "w1", "2-0": "w2"}), ["1-0", "2-0"], ["2-0"],
        as_read({"1-0": "w1", "2-0": "w2"}), {"1-0"},
        id="taken-by-another-consumer-reported-lost-and-not-stolen-back",
    ),
    pytest.param(
        held({"1-0": "w1"}), ["1-0", "2-0"], ["2-0"], as_read({"1-0": "w1"}), {"1-0"},
        id="no-longer-pending-reported-lost",
    ),
    pytest.param(
        held(MINE, present=("2-0", "3-0")), ["1-0", "2-0"], ["1-0"],
        as_read(MINE, present=("2-0", "3-0")), {"2-0"},
        id="deleted-while-pending-reported-lost-and-left-for-xautoclaim",
    ),
]


@pytest.mark.parametrize(("before", "entry_ids", "lost", "after", "renewed"), CASES)
async def test_renew(
    table: Table,
    before: Stream,
    entry_ids: list[str],
    lost: list[str],
    after: Stream,
    renewed: set[str],
) -> None:
    """w1 renews the leases of the entries it holds; the store answers the lost ones."""
    held_by_w1 = [delivery(f"j{i[0]}", i.encode()) for i in entry_ids]
    lost_ones = [d for d in held_by_w1 if d.entry_id.decode() in lost]
    await table.check(
        {NORMAL: before}, lambda: table.store.renew("w1", held_by_w1), lost_ones, {NORMAL: after}
    )
    idle = await pending_idle_ms(table.redis, NORMAL)
    assert {i for i, ms in idle.items() if ms < IDLE // 2} == renewed
    assert all(ms >= IDLE for i, ms in idle.items() if i not in renewed)


def delivery(job_id: str, entry_id: bytes, priority: str = "normal") -> Delivery:
    return Delivery("q", priority, entry_id, job_id, "email.send", b"{}", 30.0, 3, 1, 0, 1)


async def test_store_renew_returns_the_lost_deliveries(
    redis_client: Redis, store: Store
) -> None:
    await seed(redis_client, {
        NORMAL: held({"1-0": "w1", "2-0": "w2"}),
        K.stream("high"): Stream([("5-0", entry("h"))], {"5-0": Pending("w1", IDLE)}, "5-0"),
    })
    mine, theirs, high = delivery("j1", b"1-0"), delivery("j2", b"2-0"), delivery(
        "h", b"5-0", "high")
    assert await store.renew("w1", [mine, theirs, high]) == [theirs]
    assert await store.renew("w1", []) == []
    assert (await pending_idle_ms(redis_client, K.stream("high")))["5-0"] < IDLE // 2


async def test_job_whose_running_entry_is_deleted_is_recovered(
    redis_client: Redis, store: Store
) -> None:
    """An XTRIM deletes the entry of a running job: renew reports the lease lost (the node
    stops the handler; its `cancelled` outcome changes nothing), the entry stays pending,
    and the reclaimer's XAUTOCLAIM reports it deleted so that the job runs again."""
    await seed(redis_client, {
        K.job("j1"): running(),
        NORMAL: Stream([], {"1-0": Pending("w1", IDLE)}, "1-0"),
        K.index("processing"): ZSet({"j1": NOW - 500}),
    })
    running_j1 = delivery("j1", b"1-0")
    assert await store.renew("w1", [running_j1]) == [running_j1]
    stopped = Outcome(running_j1, OutcomeKind.CANCELLED, reason="cancelled")
    assert await store.finish([stopped]) == [0]
    result, _ = await store.reclaim("q", "normal", "rc", min_idle_ms=IDLE // 2)
    assert result == ReclaimResult(requeued=1, deleted_seen=1)
    job = await redis_client.hgetall(K.job("j1"))
    assert (job[b"status"], job[b"lost"]) == (b"queued", b"1")
