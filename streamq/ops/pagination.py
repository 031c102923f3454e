"""Keyset pagination over per-queue sources, merged newest first.

Pages are cursor-paginated. A cursor holds, per queue, the sort key of the last item
already returned (or that the queue is exhausted), never an offset, so items that leave or
join an index between pages do not shift the next page. The cursor also names the filters
it was made for; reusing it with other filters is refused.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson

from ..errors import ValidationError

T = TypeVar("T")
R = TypeVar("R")

MAX_PAGE = 1000
CURSOR_VERSION = 1

DONE = "done"
Position = list[Any] | str | None
"""Per queue: None (not started), the sort key of the last item returned, or DONE."""


@dataclass
class Cursor:
    filters: dict[str, Any]
    positions: dict[str, Position]
    kind: str = ""

    def encode(self) -> str:
        body = {"v": CURSOR_VERSION, "f": self.filters, "k": self.kind, "p": self.positions}
        return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, filters: dict[str, Any], queues: Sequence[str]) -> Cursor:
        """Parse a cursor made by `encode` for the same filters and queues."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            body = orjson.loads(raw)
        except (binascii.Error, ValueError, TypeError):
            raise ValidationError("cursor is not one this listing returned",
                                  field="cursor") from None
        if (
            not isinstance(body, dict)
            or body.get("v") != CURSOR_VERSION
            or not isinstance(body.get("p"), dict)
            or not isinstance(body.get("k"), str)
        ):
            raise ValidationError("cursor is not one this listing returned", field="cursor")
        if body.get("f") != filters or sorted(body["p"]) != sorted(queues):
            raise ValidationError(
                "cursor belongs to a listing with other filters", field="cursor"
            )
        for position in body["p"].values():
            if not (position is None or position == DONE or _is_key(position)):
                raise ValidationError("cursor is damaged", field="cursor")
        return cls(filters, body["p"], body["k"])


def _is_key(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | str) and not isinstance(v, bool) for v in value)
    )


# -- k-way merge pagination over per-queue sources ----------------------------------------------


@dataclass(order=True)
class Candidate(Generic[T]):
    """An item of one queue's source, ordered by `key` (pages are in descending order)."""

    key: tuple[Any, ...]
    queue: str = field(compare=False)
    position: list[Any] = field(compare=False)
    item: T = field(compare=False)


Fetch = Callable[[str, Position, int], Awaitable[list[Candidate[T]]]]
Evaluate = Callable[[list[Candidate[T]]], Awaitable[list[R | None]]]


@dataclass
class Page(Generic[R]):
    items: list[R]
    positions: dict[str, Position]
    done: bool


async def paginate(
    positions: dict[str, Position],
    fetch: Fetch[T],
    evaluate: Evaluate[T, R],
    limit: int,
    budget: int,
    chunk: int,
) -> Page[R]:
    """Merge per-queue sources newest first, keep what `evaluate` accepts (non-None).

    `fetch(queue, after, n)` returns up to n candidates of a queue strictly after position
    `after`, in descending key order (fewer than n: the queue is exhausted). At most
    `budget` candidates are evaluated, so a page's cost is bounded even when a filter
    matches rarely. Positions advance only over evaluated candidates.
    """
    pos = dict(positions)
    buffers: dict[str, list[Candidate[T]]] = {q: [] for q in pos}
    exhausted = {q for q, p in pos.items() if p == DONE}
    items: list[R] = []
    scanned = 0

    async def refill(queue: str) -> None:
        if buffers[queue] or queue in exhausted:
            return
        got = await fetch(queue, pos[queue], chunk)
        buffers[queue] = got
        if len(got) < chunk:
            exhausted.add(queue)

    while len(items) < limit and scanned < budget:
        for queue in pos:
            await refill(queue)
        batch: list[Candidate[T]] = []
        while len(batch) < min(chunk, budget - scanned):
            heads = [(b[0], q) for q, b in buffers.items() if b]
            if not heads:
                break
            queue = max(heads, key=lambda h: h[0].key)[1]
            batch.append(buffers[queue].pop(0))
            if not buffers[queue] and queue not in exhausted:
                break  # refill before comparing that queue again
        if not batch:
            break
        verdicts = await evaluate(batch)
        consumed = 0
        for candidate, verdict in zip(batch, verdicts, strict=True):
            consumed += 1
            pos[candidate.queue] = candidate.position
            if verdict is not None:
                items.append(verdict)
                if len(items) >= limit:
                    break
        scanned += consumed
        # Candidates evaluated past a full page stay unconsumed: the cursor points at the
        # last consumed one, so the next page evaluates them again.
        for candidate in reversed(batch[consumed:]):
            buffers[candidate.queue].insert(0, candidate)
    for q in pos:
        if q in exhausted and not buffers[q]:
            pos[q] = DONE
    return Page(items, pos, all(p == DONE for p in pos.values()))


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be an integer from 1 to {MAX_PAGE}", field="limit")
    return limit


def entry_key(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def scan_budget(limit: int) -> int:
    """Index entries one page may examine at most: its cost stays bounded when a filter
    matches rarely (the page then holds fewer items, with a cursor to go on)."""
    return max(10 * limit, 1000)


def chunk_size(limit: int) -> int:
    """Index entries read per round trip while filling a page."""
    return min(max(limit + 1, 50), 500)
