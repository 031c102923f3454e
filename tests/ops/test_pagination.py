"""Keyset pagination on its own (pure code, in-memory sources): the k-way merge of several
queues newest first, the scan budget, cursors that survive a round trip and refuse what
they did not make, and no item skipped or repeated while items move between pages."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamq.errors import ValidationError
from streamq.ops.pagination import (
    DONE,
    MAX_PAGE,
    Candidate,
    Cursor,
    Page,
    Position,
    check_limit,
    chunk_size,
    entry_key,
    paginate,
    scan_budget,
)

Key = tuple[int, str]


@dataclass
class Sources:
    """Per queue, items by score (an index: newest first by score, then by id); `keep`
    says which items a filter accepts. Counts what a page fetched and evaluated."""

    scores: dict[str, dict[str, int]]
    keep: Callable[[str], bool] = lambda _item: True
    fetches: list[tuple[str, Position, int]] = field(default_factory=list)
    evaluated: list[str] = field(default_factory=list)

    def key(self, queue: str, item: str) -> Key:
        return self.scores[queue][item], item

    async def fetch(self, queue: str, after: Position, n: int) -> list[Candidate[str]]:
        self.fetches.append((queue, after, n))
        rows = sorted(((s, i) for i, s in self.scores[queue].items()), reverse=True)
        if isinstance(after, list):
            rows = [r for r in rows if r < (after[0], after[1])]
        return [Candidate(r, queue, [r[0], r[1]], r[1]) for r in rows[:n]]

    async def evaluate(self, batch: list[Candidate[str]]) -> list[str | None]:
        self.evaluated += [c.item for c in batch]
        return [c.item if self.keep(c.item) else None for c in batch]

    async def page(
        self, positions: dict[str, Position], limit: int, budget: int = 1000, chunk: int = 50
    ) -> Page[str]:
        return await paginate(positions, self.fetch, self.evaluate, limit, budget, chunk)


def start(*queues: str) -> dict[str, Position]:
    return dict.fromkeys(queues)


async def test_pages_merge_every_queue_newest_first_and_end_done() -> None:
    sources = Sources({"a": {"a9": 9, "a6": 6, "a3": 3}, "b": {"b8": 8, "b7": 7, "b1": 1},
                       "c": {}})
    first = await sources.page(start("a", "b", "c"), limit=4, chunk=2)
    assert (first.items, first.done) == (["a9", "b8", "b7", "a6"], False)
    assert first.positions == {"a": [6, "a6"], "b": [7, "b7"], "c": DONE}
    second = await sources.page(first.positions, limit=4, chunk=2)
    assert (second.items, second.done) == (["a3", "b1"], True)
    assert second.positions == {"a": DONE, "b": DONE, "c": DONE}


async def test_equal_scores_are_ordered_by_id_and_none_is_lost_between_pages() -> None:
    sources = Sources({"a": {"x1": 5, "x3": 5}, "b": {"x2": 5, "x4": 5}})
    got: list[str] = []
    positions = start("a", "b")
    while True:
        page = await sources.page(positions, limit=1, chunk=1)
        got += page.items
        positions = page.positions
        if page.done:
            break
    assert got == ["x4", "x3", "x2", "x1"]


async def test_a_page_evaluates_no_more_than_its_budget() -> None:
    sources = Sources({"a": {f"i{n}": n for n in range(100)}},
                      keep=lambda item: int(item[1:]) % 50 == 0)
    page = await sources.page(start("a"), limit=5, budget=10, chunk=4)
    assert page.items == [] and not page.done, "a rare match: an empty page, and more to come"
    assert sources.evaluated == [f"i{n}" for n in range(99, 89, -1)]
    found: list[str] = []
    pages = 1
    while not page.done:
        sources.evaluated = []
        page = await sources.page(page.positions, limit=5, budget=10, chunk=4)
        assert len(sources.evaluated) <= 10
        found += page.items
        pages += 1
    assert found == ["i50", "i0"] and pages == 10


async def test_candidates_evaluated_past_a_full_page_are_evaluated_again_next_page() -> None:
    sources = Sources({"a": {f"i{n}": n for n in range(10)}})
    first = await sources.page(start("a"), limit=3, chunk=10)
    assert first.items == ["i9", "i8", "i7"]
    assert len(sources.evaluated) == 10, "the whole chunk went to one evaluation"
    assert first.positions == {"a": [7, "i7"]}, "the cursor stops at the last item kept"
    second = await sources.page(first.positions, limit=3, chunk=10)
    assert second.items == ["i6", "i5", "i4"]


async def test_an_exhausted_queue_is_not_fetched_again() -> None:
    sources = Sources({"a": {"a1": 1}, "b": {f"b{n}": 100 + n for n in range(5)}})
    page = await sources.page({"a": DONE, "b": None}, limit=2, chunk=2)
    assert page.items == ["b4", "b3"]
    assert {queue for queue, _, _ in sources.fetches} == {"b"}


# -- items that move while a listing goes on ----------------------------------------------------


@st.composite
def listings(draw: st.DrawFn) -> dict[str, Any]:
    queues = draw(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4, unique=True))
    scores = {q: {f"{q}{i}": draw(st.integers(0, 40)) for i in range(draw(st.integers(0, 25)))}
              for q in queues}
    return {
        "scores": scores,
        "every": draw(st.integers(1, 4)),
        "limit": draw(st.integers(1, 6)),
        "budget": draw(st.integers(1, 15)),
        "chunk": draw(st.integers(1, 8)),
        "moves": draw(st.lists(st.tuples(st.sampled_from(["delete", "renew", "insert"]),
                                         st.integers(0, 10_000)), max_size=60)),
    }


def _move(sources: Sources, what: str, pick: int, top: int, moved: set[str]) -> None:
    """Between two pages: delete an item, give one a newer score (it re-entered its index),
    or add a new one (newer than everything, as scores are times)."""
    queues = sorted(sources.scores)
    queue = queues[pick % len(queues)]
    items = sorted(sources.scores[queue])
    if what == "insert" or not items:
        sources.scores[queue][f"{queue}new{pick}-{top}"] = top + 1
        return
    item = items[pick % len(items)]
    moved.add(item)
    if what == "delete":
        del sources.scores[queue][item]
    else:
        sources.scores[queue][item] = top + 1


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(listings())
def test_no_item_is_skipped_or_repeated_while_items_move(case: dict[str, Any]) -> None:
    asyncio.run(_list_while_moving(case))


async def _list_while_moving(case: dict[str, Any]) -> None:
    every = case["every"]
    sources = Sources({q: dict(items) for q, items in case["scores"].items()},
                      keep=lambda item: sum(map(ord, item)) % every == 0)
    queues = sorted(sources.scores)
    filters = {"every": every}
    original = {(q, i) for q, items in case["scores"].items() for i in items}
    moved: set[str] = set()
    listed: list[tuple[Key, str]] = []
    moves = iter(case["moves"])
    cursor: str | None = None
    for _ in range(1000):
        positions = start(*queues) if cursor is None else Cursor.decode(
            cursor, filters, queues).positions
        sources.evaluated = []
        page = await sources.page(positions, case["limit"], case["budget"], case["chunk"])
        assert len(page.items) <= case["limit"]
        assert len(sources.evaluated) <= case["budget"]
        keys = [sources.key(_queue_of(sources, item), item) for item in page.items]
        assert keys == sorted(keys, reverse=True), "a page is newest first"
        listed += zip(keys, page.items, strict=True)
        if page.done:
            break
        cursor = Cursor(filters, page.positions, "all").encode()
        top = max((s for items in sources.scores.values() for s in items.values()), default=0)
        for what, pick in [next(moves, ("none", 0)) for _ in range(2)]:
            if what != "none":
                _move(sources, what, pick, top, moved)
    else:
        pytest.fail("the listing never ended")
    items = [item for _, item in listed]
    assert len(items) == len(set(items)), "an item was listed twice"
    assert all(sources.keep(item) for item in items), "an item the filter refused"
    stayed = {i for _, i in original if i not in moved and sources.keep(i)}
    assert stayed <= set(items), f"skipped: {sorted(stayed - set(items))}"
    # Across pages too, items that stayed put come newest first (items that joined an
    # index meanwhile may show up in a queue the listing had not reached yet).
    keys = [key for key, item in listed if item in stayed]
    assert keys == sorted(keys, reverse=True)


def _queue_of(sources: Sources, item: str) -> str:
    return next(q for q, items in sources.scores.items() if item in items)


# -- cursors ------------------------------------------------------------------------------------

FILTERS = {"status": "failed", "type": None, "queue": None}


def test_a_cursor_survives_its_round_trip_as_url_safe_text() -> None:
    cursor = Cursor(FILTERS, {"a": [1_700_000_000_000, "j1"], "b": DONE, "c": None}, "status")
    text = cursor.encode()
    assert text.isascii() and not set(text) & set("+/= ")
    assert Cursor.decode(text, FILTERS, ["c", "b", "a"]) == cursor


def _raw(body: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


def _body(**changes: Any) -> dict[str, Any]:
    return {"v": 1, "f": FILTERS, "k": "all", "p": {"a": [5, "j1"]}, **changes}


@pytest.mark.parametrize(("text", "message"), [
    ("!!!", "not one this listing returned"),
    (base64.urlsafe_b64encode(b"not json").decode(), "not one this listing returned"),
    ("a", "not one this listing returned"),
    (_raw([1, 2]), "not one this listing returned"),
    (_raw(_body(v=2)), "not one this listing returned"),
    (_raw(_body(p=[["a", 5]])), "not one this listing returned"),
    (_raw(_body(k=5)), "not one this listing returned"),
    (_raw(_body(f={**FILTERS, "status": "queued"})), "other filters"),
    (_raw(_body(p={"a": None, "b": None})), "other filters"),
    (_raw(_body(p={"z": None})), "other filters"),
    (_raw(_body(p={"a": [5, "j1", 7]})), "damaged"),
    (_raw(_body(p={"a": [True, "j1"]})), "damaged"),
    (_raw(_body(p={"a": [5.5, "j1"]})), "damaged"),
    (_raw(_body(p={"a": "started"})), "damaged"),
    (_raw(_body(p={"a": {"ms": 5}})), "damaged"),
], ids=lambda value: str(value)[:24])
def test_a_foreign_or_damaged_cursor_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as refused:
        Cursor.decode(text, FILTERS, ["a"])
    assert refused.value.field == "cursor"


# -- page sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE + 1, True, "5", 2.0])
def test_a_limit_out_of_range_or_not_an_integer_is_refused(limit: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        check_limit(limit)
    assert refused.value.field == "limit"


def test_limits_budgets_and_chunks() -> None:
    assert [check_limit(n) for n in (1, MAX_PAGE)] == [1, MAX_PAGE]
    assert [scan_budget(n) for n in (1, 100, 1000)] == [1000, 1000, 10_000]
    assert [chunk_size(n) for n in (1, 50, 100, 1000)] == [50, 51, 101, 500]
    assert entry_key(b"1700000000000-3") == (1_700_000_000_000, 3)
    assert entry_key("5") == (5, 0)
