"""Small statistics: percentiles of latency samples, medians and spreads of repeats."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        return {"median": self.median, "min": self.low, "max": self.high, "n": self.n}


def summarize(samples: list[float]) -> Summary | None:
    """Median and min-max of the repeats; None when nothing was measured."""
    if not samples:
        return None
    return Summary(statistics.median(samples), min(samples), max(samples), len(samples))


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant (an end at the same time as a start
    closes first)."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most
