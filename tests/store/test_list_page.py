"""list_page.lua: newest first | strictly after a (score, member) cursor, ties on equal
scores broken by member, byte-wise descending, even when the cursor's member left the index
| at most `count` items | read only.

Skipping expired records and removing their index entries is the caller's read repair
(`trim.lua`, see test_trim.py and tests/control/test_listing.py)."""

from __future__ import annotations

import random

import pytest
from redis.asyncio import Redis

from streamq.keys import Index
from streamq.store import Store

from .redis_state import NOW, K, Q, ZSet, read_state, seed, text

INDEX = K.index_all
OLD, MID, NEW = NOW - 3, NOW - 2, NOW - 1
TABLE = ZSet({"a": OLD, "b": MID, "c": MID, "d": MID, "e": NEW})
"""Newest first: e, then d, c, b (equal scores, members descending), then a."""


async def page(store: Store, after: tuple[int, str] | None, count: int) -> list[str]:
    """The members of one page of index:all (scores checked separately)."""
    return [member for _, member in await store.index_page(Q, Index("all"), after, count)]


CASES = [
    pytest.param(None, 10, ["e", "d", "c", "b", "a"], id="from-the-newest"),
    pytest.param(None, 2, ["e", "d"], id="from-the-newest-page-bound"),
    pytest.param((NEW, "e"), 10, ["d", "c", "b", "a"], id="after-the-newest"),
    pytest.param((NEW, "e"), 2, ["d", "c"], id="after-a-cursor-page-bound"),
    pytest.param((MID, "d"), 2, ["c", "b"], id="tie-after-the-first-of-equal-scores"),
    pytest.param((MID, "c"), 10, ["b", "a"], id="tie-after-a-middle-one"),
    pytest.param((MID, "b"), 10, ["a"], id="tie-after-the-last-of-equal-scores"),
    pytest.param((MID, "cc"), 10, ["c", "b", "a"], id="tie-cursor-member-left-the-index"),
    pytest.param((MID, "z"), 10, ["d", "c", "b", "a"], id="tie-cursor-above-every-member"),
    pytest.param((MID, "0"), 10, ["a"], id="tie-cursor-below-every-member"),
    pytest.param((NOW - 2_000, "x"), 10, [], id="cursor-older-than-everything-end"),
    pytest.param((OLD, "a"), 10, [], id="after-the-oldest-end"),
    pytest.param((NOW + 5, "x"), 10, ["e", "d", "c", "b", "a"],
                 id="cursor-newer-than-everything"),
    pytest.param(None, 0, [], id="count-zero-from-the-newest-empty"),
    pytest.param((NOW + 5, "x"), 0, [], id="count-zero-after-a-cursor-empty"),
    pytest.param(None, -1, [], id="negative-count-empty-not-everything"),
]


@pytest.mark.parametrize(("after", "count", "members"), CASES)
async def test_list_page(
    redis_client: Redis,
    store: Store,
    after: tuple[int, str] | None,
    count: int,
    members: list[str],
) -> None:
    await seed(redis_client, {INDEX: TABLE})
    assert await page(store, after, count) == members
    assert await read_state(redis_client) == {INDEX: TABLE}


async def test_replies_scores_with_members(redis_client: Redis, store: Store) -> None:
    await seed(redis_client, {INDEX: TABLE})
    assert await store.index_page(Q, Index("all"), (MID, "c"), 2) == [(MID, "b"), (OLD, "a")]


async def test_missing_index_is_an_empty_page(store: Store) -> None:
    assert await page(store, None, 10) == []
    assert await page(store, (NOW, "x"), 10) == []


async def test_ties_compare_bytes_not_numbers_or_locale(
    redis_client: Redis, store: Store
) -> None:
    """Redis orders equal scores by memcmp: 'a10' < 'a9', 'Z' < 'a', and a prefix first."""
    members = ["a9", "a10", "Z", "a", "ab", "\u00e9"]
    await seed(redis_client, {INDEX: ZSet(dict.fromkeys(members, MID))})
    order = text(await redis_client.zrange(INDEX, 0, -1, desc=True))
    assert order == ["\u00e9", "ab", "a9", "a10", "a", "Z"]
    for i, member in enumerate(order):
        assert await page(store, (MID, member), 10) == order[i + 1:]


async def test_pages_walk_the_index_exactly_once(
    redis_client: Redis, store: Store
) -> None:
    """Through the store: 300 ids over 7 distinct scores, pages of 7, each page resuming
    from the last (score, id) returned: the concatenation is the whole index, in order."""
    rng = random.Random(7)
    ids = {f"j{rng.randrange(10**6):06d}-{i}": NOW - rng.randrange(7) for i in range(300)}
    await seed(redis_client, {INDEX: ZSet(ids)})
    seen: list[tuple[int, str]] = []
    after: tuple[int, str] | None = None
    while rows := await store.index_page("q", Index("all"), after, 7):
        assert len(rows) <= 7
        seen += rows
        after = rows[-1]
    everything = text(await redis_client.zrange(INDEX, 0, -1, desc=True, withscores=True))
    assert seen == [(int(score), member) for member, score in everything]
