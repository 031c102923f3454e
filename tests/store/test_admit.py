"""admit.lua: a slot taken under the limit | parked in the waiting set at the limit (entry
acknowledged and deleted, record still `queued`) | expired leases reclaimed first | a job
that already holds a slot (given back by release) keeps it | not runnable: let through."""

from __future__ import annotations

from typing import Any

import pytest

from streamq.store import Store

from .conftest import Table
from .redis_state import (
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
    delivery,
    entry,
    record,
    text,
)


async def admit(
    store: Store, jobs: list[tuple[str, str]], priority: str = "normal", limit: int = LIMIT
) -> list[bool]:
    """Admit (job id, entry id) pairs fetched from the `priority` stream."""
    fetched = [delivery(j, e, priority, run=0) for j, e in jobs]
    return await store.admit(Q, priority, TYPE, limit, fetched)


QUEUED = record("queued")
FETCHED = Stream([("1-0", entry("j1"))], {"1-0": "w1"}, "1-0")
"""j1's entry, delivered to w1 by the fetch that precedes admit."""
ACKED = Stream([], {}, "1-0")


def fetched(**more: Any) -> State:
    return {K.job("j1"): QUEUED, NORMAL: FETCHED, **more}


FULL = ZSet({"a": NOW + 5_000, "b": NOW + 9_000})
"""Two unexpired leases: the type is at its limit."""

CASES = [
    pytest.param(
        fetched(), [True], fetched(**{RUNNING: ZSet({"j1": NOW + LEASE_MS})}),
        id="empty-slot-taken-with-a-lease",
    ),
    pytest.param(
        fetched(**{RUNNING: ZSet({"a": NOW + 5_000})}), [True],
        fetched(**{RUNNING: ZSet({"a": NOW + 5_000, "j1": NOW + LEASE_MS})}),
        id="under-limit-slot-taken",
    ),
    pytest.param(
        fetched(**{RUNNING: FULL}), [False],
        {K.job("j1"): QUEUED, NORMAL: ACKED, RUNNING: FULL,
         WAITING: ZSet({"j1": RANK["normal"] + NOW})},
        id="at-limit-parked-entry-acked-deleted-record-unchanged",
    ),
    pytest.param(
        fetched(**{RUNNING: FULL, WAITING: ZSet({"p0": RANK["normal"] + NOW - 10})}), [False],
        {K.job("j1"): QUEUED, NORMAL: ACKED, RUNNING: FULL,
         WAITING: ZSet({"p0": RANK["normal"] + NOW - 10, "j1": RANK["normal"] + NOW})},
        id="parked-behind-older-waiting-jobs",
    ),
    pytest.param(
        fetched(**{RUNNING: FULL, WAITING: ZSet({"j1": RANK["normal"] + NOW - 10})}), [False],
        {K.job("j1"): QUEUED, NORMAL: ACKED, RUNNING: FULL,
         WAITING: ZSet({"j1": RANK["normal"] + NOW - 10})},
        id="parked-again-keeps-its-place",
    ),
    pytest.param(
        fetched(**{RUNNING: ZSet({"a": NOW - 1, "b": NOW + 9_000})}), [True],
        fetched(**{RUNNING: ZSet({"b": NOW + 9_000, "j1": NOW + LEASE_MS})}),
        id="expired-lease-dropped-its-slot-taken",
    ),
    pytest.param(
        fetched(**{RUNNING: ZSet({"a": NOW, "b": NOW + 9_000})}), [True],
        fetched(**{RUNNING: ZSet({"b": NOW + 9_000, "j1": NOW + LEASE_MS})}),
        id="lease-expiring-now-counts-as-expired",
    ),
    pytest.param(
        fetched(**{RUNNING: ZSet({"a": NOW + 5_000, "j1": NOW + 100})}), [True],
        fetched(**{RUNNING: ZSet({"a": NOW + 5_000, "j1": NOW + LEASE_MS})}),
        id="given-back-job-keeps-its-slot-at-the-limit-lease-renewed",
    ),
    pytest.param(
        fetched(**{RUNNING: ZSet({"a": NOW + 5_000, "j1": NOW + 100}),
                   K.job("j1"): record("processing")}), [True],
        fetched(**{RUNNING: ZSet({"a": NOW + 5_000, "j1": NOW + LEASE_MS}),
                   K.job("j1"): record("processing")}),
        id="redelivered-while-processing-keeps-its-slot",
    ),
    pytest.param(
        fetched(**{RUNNING: FULL, K.job("j1"): record("cancelled")}), [True],
        fetched(**{RUNNING: FULL, K.job("j1"): record("cancelled")}),
        id="cancelled-let-through-no-slot-start-skips-it",
    ),
    pytest.param(
        {NORMAL: FETCHED, RUNNING: FULL}, [True], {NORMAL: FETCHED, RUNNING: FULL},
        id="record-missing-let-through-no-slot",
    ),
]


@pytest.mark.parametrize(("before", "reply", "after"), CASES)
async def test_admit(table: Table, before: State, reply: list[bool], after: State) -> None:
    await table.check(before, lambda: admit(table.store, [("j1", "1-0")]), reply, after)


async def test_high_priority_parks_ahead_of_normal(table: Table) -> None:
    high = K.stream("high")
    before = {
        K.job("j1"): record("queued", priority="high"),
        high: FETCHED,
        RUNNING: FULL,
        WAITING: ZSet({"n0": RANK["normal"] + NOW - 60_000}),
    }
    after = {
        K.job("j1"): record("queued", priority="high"),
        high: ACKED,
        RUNNING: FULL,
        WAITING: ZSet({"j1": NOW, "n0": RANK["normal"] + NOW - 60_000}),
    }
    await table.check(
        before, lambda: admit(table.store, [("j1", "1-0")], priority="high"), [False], after
    )
    order = text(await table.redis.zrange(WAITING, 0, -1))
    assert order == ["j1", "n0"]


async def test_batch_fills_the_free_slots_in_order_and_parks_the_rest(table: Table) -> None:
    before = {
        **{K.job(j): QUEUED for j in ("j1", "j2", "j3")},
        K.job("j4"): record("cancelled"),
        NORMAL: Stream(
            [(f"{i}-0", entry(j)) for i, j in enumerate(("j1", "j2", "j3", "j4"), 1)],
            {f"{i}-0": "w1" for i in range(1, 5)}, "4-0",
        ),
        RUNNING: ZSet({"a": NOW + 5_000}),
    }
    after = {
        **{K.job(j): QUEUED for j in ("j1", "j2", "j3")},
        K.job("j4"): record("cancelled"),
        NORMAL: Stream([("1-0", entry("j1")), ("4-0", entry("j4"))],
                       {"1-0": "w1", "4-0": "w1"}, "4-0"),
        RUNNING: ZSet({"a": NOW + 5_000, "j1": NOW + LEASE_MS}),
        WAITING: ZSet({"j2": RANK["normal"] + NOW, "j3": RANK["normal"] + NOW}),
    }
    pairs = [("j1", "1-0"), ("j2", "2-0"), ("j3", "3-0"), ("j4", "4-0")]
    await table.check(
        before, lambda: admit(table.store, pairs), [True, False, False, True], after
    )
