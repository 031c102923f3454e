"""Pure decisions: backoff with jitter, retry-or-dead, priority order. No I/O here."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .keys import PRIORITIES


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: attempt n (1-based) waits up to min(cap, base * 2**(n-1)).

    `full` jitter draws uniformly below that ceiling (spreads a thundering herd best);
    `equal` jitter draws in its upper half, so successive gaps never shrink.
    """

    base_s: float = 1.0
    cap_s: float = 600.0
    jitter: Literal["full", "equal", "none"] = "full"

    def ceiling_s(self, attempt: int) -> float:
        return float(min(self.cap_s, self.base_s * 2 ** max(0, attempt - 1)))

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = self.ceiling_s(attempt)
        draw = (rng or random).random()
        if self.jitter == "full":
            return ceiling * draw
        if self.jitter == "equal":
            return ceiling / 2 + ceiling / 2 * draw
        return ceiling


@dataclass(frozen=True, slots=True)
class Decision:
    retry: bool
    delay_ms: int
    reason: str


def decide_failure(
    attempt: int,
    max_retries: int,
    backoff: Backoff,
    requested_delay_s: float | None = None,
    final: bool = False,
    reason: str = "error",
    rng: random.Random | None = None,
) -> Decision:
    """Retry with backoff while attempts are left (attempt <= max_retries); else dead-letter."""
    if final:
        return Decision(False, 0, reason)
    if attempt > max_retries:
        return Decision(False, 0, "retries exhausted" if max_retries else reason)
    delay = requested_delay_s if requested_delay_s is not None else backoff.delay_s(attempt, rng)
    return Decision(True, max(0, round(delay * 1000)), reason)


class PriorityOrder:
    """The order in which a fetch takes the priority streams.

    Strict (no weights): always high, normal, low. Weighted: a weighted random draw picks
    the first stream, so when all have a backlog each level gets about its share and none
    starves; the rest follow in strict order so no slot stays idle.
    """

    def __init__(
        self, weights: Mapping[str, int] | None = None, rng: random.Random | None = None
    ) -> None:
        self.weights = dict(weights) if weights else None
        self.rng = rng or random.Random()

    def next(self) -> Sequence[str]:
        if not self.weights:
            return PRIORITIES
        first = self.rng.choices(PRIORITIES, weights=[self.weights[p] for p in PRIORITIES])[0]
        return (first, *(p for p in PRIORITIES if p != first))
