"""trim.lua: index entries of candidates whose record is gone are removed, those whose
record exists (written meanwhile) kept | a type whose index empties leaves the types set.
Through the store: the janitor's bounded sweep by age (older than a cutoff, `count` entries
at a time) and the finished indices and dead-letter stream trimmed by age."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from streamq.keys import Index
from streamq.settings import Settings
from streamq.store import Store

from .conftest import Table
from .redis_state import NOW, TYPE, K, Q, State, Stream, ZSet, read_state, record, seed

TYPED = K.index_type(TYPE)
ALL, BY_TYPE, SUCCEEDED = Index("all"), Index("type", TYPE), Index("status", "succeeded")


LIVE = record("queued")
TWO = ZSet({"gone": NOW - 2, "live": NOW - 1})
TYPES = {TYPE, "other"}

CASES = [
    pytest.param(
        {K.index_all: TWO, K.job("live"): LIVE, K.types: TYPES}, ALL,
        ["gone", "live"], 1, {K.index_all: ZSet({"live": NOW - 1}), K.job("live"): LIVE,
                              K.types: TYPES},
        id="gone-removed-live-kept",
    ),
    pytest.param(
        {K.index_all: TWO, K.job("live"): LIVE, K.job("gone"): LIVE, K.types: TYPES},
        ALL, ["gone"], 0,
        {K.index_all: TWO, K.job("live"): LIVE, K.job("gone"): LIVE, K.types: TYPES},
        id="record-written-meanwhile-kept",
    ),
    pytest.param(
        {K.index_all: TWO, K.job("live"): LIVE}, ALL, ["absent"], 0,
        {K.index_all: TWO, K.job("live"): LIVE}, id="candidate-not-in-the-index",
    ),
    pytest.param(
        {TYPED: ZSet({"gone": NOW}), K.types: TYPES}, BY_TYPE, ["gone"], 1,
        {K.types: {"other"}}, id="type-index-emptied-type-forgotten",
    ),
    pytest.param(
        {TYPED: TWO, K.job("live"): LIVE, K.types: TYPES}, BY_TYPE, ["gone"], 1,
        {TYPED: ZSet({"live": NOW - 1}), K.job("live"): LIVE, K.types: TYPES},
        id="type-index-not-empty-type-kept",
    ),
    pytest.param(
        {K.index("succeeded"): ZSet({"gone": NOW}), K.types: TYPES}, SUCCEEDED,
        ["gone"], 1, {K.types: TYPES}, id="status-index-emptied-types-untouched",
    ),
]


@pytest.mark.parametrize(("before", "index", "candidates", "reply", "after"), CASES)
async def test_trim(
    table: Table, before: State, index: Index, candidates: list[str], reply: int, after: State
) -> None:
    await table.check(
        before, lambda: table.store.trim_index(Q, index, candidates), reply, after
    )


async def test_sweep_checks_at_most_count_entries_older_than_the_cutoff(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    store = Store(redis_client, settings_for(queue="q"))
    index = ZSet({"o1": NOW - 50, "o2": NOW - 40, "o3": NOW - 30, "o4": NOW - 20,
                  "young": NOW})
    await seed(redis_client, {K.index_all: index, K.job("o2"): LIVE, K.job("o4"): LIVE})
    assert await store.sweep_index("q", Index("all"), NOW - 10, 0, 2) == (2, 1)
    assert await store.sweep_index("q", Index("all"), NOW - 10, 1, 2) == (2, 1)
    assert await store.sweep_index("q", Index("all"), NOW - 10, 2, 2) == (0, 0)
    assert await read_state(redis_client) == {
        K.index_all: ZSet({"o2": NOW - 40, "o4": NOW - 20, "young": NOW}),
        K.job("o2"): LIVE, K.job("o4"): LIVE,
    }


async def test_retention_trims_finished_indices_and_dead_letters_by_age(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    store = Store(redis_client, settings_for(queue="q", result_ttl_s=60, failed_ttl_s=120))
    ok_cut, failed_cut = NOW - 60_000, NOW - 120_000
    dead = Stream([(f"{failed_cut - 1}-0", {"job": "old"}), (f"{failed_cut}-0", {"job": "edge"}),
                   (f"{NOW - 1}-0", {"job": "young"})])
    before: State = {
        K.index("succeeded"): ZSet({"old": ok_cut - 1, "edge": ok_cut, "young": ok_cut + 1}),
        K.index("failed"): ZSet({"old": failed_cut - 1, "young": ok_cut - 1}),
        K.index("cancelled"): ZSet({"old": failed_cut - 1, "young": ok_cut - 1}),
        K.index("queued"): ZSet({"ancient": 1}),
        K.dead: dead,
    }
    await seed(redis_client, before)
    await store.trim_retention("q", NOW)
    assert await read_state(redis_client) == {
        **before,
        K.index("succeeded"): ZSet({"young": ok_cut + 1}),
        K.index("failed"): ZSet({"young": ok_cut - 1}),
        K.index("cancelled"): ZSet({"young": ok_cut - 1}),
        K.dead: Stream(dead.entries[1:]),
    }
