"""fetch.lua: strict or given order, count spread over streams, pauses, NOGROUP recovery."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from streamq.job import Delivery
from streamq.keys import GROUP, PRIORITIES
from streamq.store import FetchResult, Store

from .conftest import Table
from .redis_state import TYPE, K, Q, State, Stream, entry, seed, text

HIGH, NORMAL, LOW = (K.stream(p) for p in PRIORITIES)
E1, E2, E3 = ("1-0", entry("a")), ("2-0", entry("b")), ("3-0", entry("c"))


def got(priority: str, *entries: tuple[str, dict[str, str]]) -> list[Delivery]:
    """The deliveries one stream gives, each carrying what its entry holds (no payload: the
    start script hands it over from the record)."""
    return [
        Delivery(Q, priority, entry_id.encode(), fields["id"], TYPE, b"", 30.0, 3,
                 0, int(fields["enq"]))
        for entry_id, fields in entries
    ]


def fetched(active: list[str], *deliveries: list[Delivery]) -> FetchResult:
    return FetchResult([d for group in deliveries for d in group], active)


async def fetch(
    table: Table, count: int, order: tuple[str, ...] = PRIORITIES, consumer: str = "w1"
) -> FetchResult:
    return await table.store.fetch(Q, order, consumer, count)


def fresh(*entries: tuple[str, dict[str, str]]) -> Stream:
    """A stream whose group has delivered nothing yet."""
    return Stream(list(entries), {}, "0-0")


EMPTY: State = {HIGH: fresh(), NORMAL: fresh(), LOW: fresh()}
ALL = ["high", "normal", "low"]

CASES = [
    pytest.param(
        {**EMPTY, HIGH: fresh(E1, E2), NORMAL: fresh(E3)}, {"count": 2},
        fetched(ALL, got("high", E1, E2)),
        {**EMPTY, HIGH: Stream([E1, E2], {"1-0": "w1", "2-0": "w1"}, "2-0"), NORMAL: fresh(E3)},
        id="strict-high-drains-first",
    ),
    pytest.param(
        {**EMPTY, HIGH: fresh(E1), NORMAL: fresh(E2, E3)}, {"count": 2},
        fetched(ALL, got("high", E1), got("normal", E2)),
        {
            **EMPTY,
            HIGH: Stream([E1], {"1-0": "w1"}, "1-0"),
            NORMAL: Stream([E2, E3], {"2-0": "w1"}, "2-0"),
        },
        id="count-spills-into-the-next-priority",
    ),
    pytest.param(
        {**EMPTY, HIGH: fresh(E1), NORMAL: fresh(E2)},
        {"count": 1, "order": ("normal", "high", "low")},
        fetched(["normal", "high", "low"], got("normal", E2)),
        {**EMPTY, HIGH: fresh(E1), NORMAL: Stream([E2], {"2-0": "w1"}, "2-0")},
        id="weighted-order-as-given",
    ),
    pytest.param(
        {**EMPTY, HIGH: fresh(E1)}, {"count": 0}, fetched(ALL), {**EMPTY, HIGH: fresh(E1)},
        id="no-free-slot-reads-nothing",
    ),
    pytest.param(EMPTY, {"count": 10}, fetched(ALL), EMPTY, id="all-empty"),
    pytest.param(
        {**EMPTY, HIGH: Stream([E1, E2], {"1-0": "w0"}, "1-0")}, {"count": 10},
        fetched(ALL, got("high", E2)),
        {**EMPTY, HIGH: Stream([E1, E2], {"1-0": "w0", "2-0": "w1"}, "2-0")},
        id="pending-entries-of-others-are-not-delivered-again",
    ),
    pytest.param(
        {**EMPTY, HIGH: fresh(E1), NORMAL: fresh(E2), K.paused: {"high": "1"}}, {"count": 5},
        fetched(["normal", "low"], got("normal", E2)),
        {**EMPTY, HIGH: fresh(E1), NORMAL: Stream([E2], {"2-0": "w1"}, "2-0"),
         K.paused: {"high": "1"}},
        id="paused-priority-skipped",
    ),
    pytest.param(
        {**EMPTY, HIGH: fresh(E1), K.paused: {"*": "1"}}, {"count": 5}, fetched([]),
        {**EMPTY, HIGH: fresh(E1), K.paused: {"*": "1"}}, id="paused-queue-reads-nothing",
    ),
    pytest.param(
        {HIGH: Stream([E1, E2])}, {"count": 5},
        fetched(ALL, got("high", E1, E2)),
        {**EMPTY, HIGH: Stream([E1, E2], {"1-0": "w1", "2-0": "w1"}, "2-0")},
        id="nogroup-recreated-at-0-and-missing-streams-made",
    ),
]


@pytest.mark.parametrize(("before", "call", "reply", "after"), CASES)
async def test_fetch(
    table: Table, before: State, call: dict[str, Any], reply: FetchResult, after: State
) -> None:
    await table.check(before, lambda: fetch(table, **call), reply, after)


async def test_deleted_group_is_recreated_at_0_without_skipping_queued_entries(
    redis_client: Redis, store: Store
) -> None:
    """After XGROUP DESTROY (or FLUSHALL and new XADDs) the group comes back at id 0,
    not `$`: entries queued meanwhile, and ones whose delivery the lost group forgot,
    are all delivered."""
    await store.ensure_groups("q")
    for job_id in ("a", "b"):
        await redis_client.xadd(NORMAL, entry(job_id))  # type: ignore[arg-type]
    first = await store.fetch("q", PRIORITIES, "w0", 1)
    assert [d.job_id for d in first.deliveries] == ["a"]
    await redis_client.xgroup_destroy(NORMAL, GROUP)
    await redis_client.delete(HIGH)
    await redis_client.xadd(HIGH, entry("c"))  # type: ignore[arg-type]
    again = await store.fetch("q", PRIORITIES, "w1", 10)
    assert [(d.priority, d.job_id) for d in again.deliveries] == [
        ("high", "c"), ("normal", "a"), ("normal", "b")
    ]
    for stream in (HIGH, NORMAL, LOW):
        (group,) = await redis_client.xinfo_groups(stream)
        assert text(group["name"]) == GROUP
    assert (await store.fetch("q", PRIORITIES, "w1", 10)).deliveries == []


async def test_store_fetch_builds_deliveries(
    redis_client: Redis, store: Store
) -> None:
    await seed(redis_client, {**EMPTY, LOW: fresh(E1), K.paused: {"high": "1"}})
    result = await store.fetch("q", PRIORITIES, "w1", 5)
    assert result.active_priorities == ["normal", "low"]
    (d,) = result.deliveries
    assert (d.queue, d.priority, d.entry_id, d.job_id, d.type, d.payload) == (
        "q", "low", b"1-0", "a", "email.send", b""  # start hands over the payload
    )
    assert (d.timeout_s, d.max_retries, d.attempt, d.enqueued_ms, d.run) == (
        30.0, 3, 0, int(E1[1]["enq"]), 0
    )
