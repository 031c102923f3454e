"""Prometheus metrics of a process (worker node or API). Labels are bounded: queue, task,
priority, outcome; never job ids."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import cast

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from .job import OutcomeKind
from .keys import PRIORITIES

REGISTRY = CollectorRegistry(auto_describe=True)

JOBS_ENQUEUED = Counter(
    "streamq_jobs_enqueued_total", "Jobs accepted by enqueue.", ["queue", "task"],
    registry=REGISTRY,
)
JOBS_PROCESSED = Counter(
    "streamq_jobs_processed_total", "Attempts finished, by outcome.",
    ["queue", "task", "outcome"], registry=REGISTRY,
)
JOBS_FAILED = Counter(
    "streamq_jobs_failed_total", "Attempts that raised or timed out.", ["queue", "task"],
    registry=REGISTRY,
)
JOBS_RETRIED = Counter(
    "streamq_jobs_retried_total", "Failed attempts scheduled for a retry.", ["queue", "task"],
    registry=REGISTRY,
)
JOBS_DEAD = Counter(
    "streamq_jobs_dead_total", "Jobs moved to the dead-letter queue.", ["queue", "task"],
    registry=REGISTRY,
)

_go_float = cast(Callable[[float], str], floatToGoString)  # how prometheus_client writes `le`


class LoopHistogramChild:
    """One series: plain bucket counts (not yet cumulative; the last is +Inf) and a sum."""

    __slots__ = ("_bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self._bounds, value)] += 1  # a bucket counts values <= le
        self.sum += value


class LoopHistogram:
    """A histogram observed for every job, from the event loop's thread only: plain counts,
    where prometheus_client's Histogram takes a lock for its sum and again for its bucket
    (0.7-0.9 µs an observation against 0.12-0.17 in two runs, twice a job; `python -m
    benchmarks.worker_cpu`).
    Scraped as prometheus_client's Histogram would show it. A scrape from another thread
    reads the counts as they stand: a sum may be an observation ahead of its buckets."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str],
        buckets: Sequence[float], registry: CollectorRegistry,
    ) -> None:
        self._name, self._documentation = name, documentation
        self._labelnames = tuple(labelnames)
        self._bounds = tuple(float(b) for b in buckets)
        self._les = [*(_go_float(b) for b in self._bounds), "+Inf"]
        self._children: dict[tuple[str, ...], LoopHistogramChild] = {}
        registry.register(self)

    def labels(self, *values: str) -> LoopHistogramChild:
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self._labelnames):
                raise ValueError(f"{self._name} takes labels {self._labelnames}")
            child = self._children[values] = LoopHistogramChild(self._bounds)
        return child

    def describe(self) -> Iterable[Metric]:
        return [Metric(self._name, self._documentation, "histogram")]

    def collect(self) -> Iterator[Metric]:
        metric = Metric(self._name, self._documentation, "histogram")
        created = getattr(prometheus_metrics, "_use_created", True)  # disable_created_metrics()
        for values, child in self._children.copy().items():  # copy(): one step, under the GIL
            labels = dict(zip(self._labelnames, values, strict=True))
            total = 0
            for le, count in zip(self._les, list(child.counts), strict=True):
                total += count
                metric.add_sample(f"{self._name}_bucket", {**labels, "le": le}, float(total))
            metric.add_sample(f"{self._name}_count", labels, float(total))
            metric.add_sample(f"{self._name}_sum", labels, child.sum)
            if created:
                metric.add_sample(f"{self._name}_created", labels, child.created)
        yield metric


PROCESSING_SECONDS = LoopHistogram(
    "streamq_job_processing_duration_seconds", "Handler run time of one attempt.",
    ["queue", "task"], registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
QUEUE_WAIT_SECONDS = LoopHistogram(
    "streamq_job_queue_wait_seconds", "Time from entering the stream to handler start.",
    ["queue", "priority"], registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600),
)
JOBS_IN_FLIGHT = Gauge(
    "streamq_jobs_in_flight", "Attempts running on this node.", ["queue"], registry=REGISTRY
)


class InFlight:
    """Attempts running in this process, per queue: plain counts that the executors move
    for every job, read by `streamq_jobs_in_flight` only when it is scraped, where a Gauge's
    own inc and dec take a lock each. The executors all run on the event loop's thread, and
    a scrape from another thread reads a count as it stands."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def track(self, queue: str) -> None:
        """The queue's series, at zero, read from its count from now on."""
        if queue not in self.counts:
            self.counts[queue] = 0
            JOBS_IN_FLIGHT.labels(queue).set_function(lambda: self.counts[queue])


IN_FLIGHT = InFlight()

STALE_OUTCOMES = Counter(
    "streamq_stale_outcomes_total", "Outcomes of superseded attempts, fenced off.", ["queue"],
    registry=REGISTRY,
)
RECLAIMED = Counter(
    "streamq_reclaimed_total", "Entries taken back from lost workers, by result.",
    ["queue", "result"], registry=REGISTRY,
)
LEASES_LOST = Counter(
    "streamq_leases_lost_total", "In-flight entries this node found claimed by another.",
    ["queue"], registry=REGISTRY,
)
ACTOR_RESTARTS = Counter(
    "streamq_actor_restarts_total", "Actor crashes followed by a restart.", ["actor"],
    registry=REGISTRY,
)


def declare_worker_series(queues: Iterable[str], tasks: Iterable[tuple[str, str]]) -> None:
    """Create a worker's series at zero before its first job, for its queues and its
    (queue, task) pairs. A counter series born at 1 hides that first increment from
    `rate()` and `increase()` (the first dead letter would raise no alert), and a panel
    shows "no data" where it should show 0."""
    for queue in queues:
        IN_FLIGHT.track(queue)
        STALE_OUTCOMES.labels(queue)
        LEASES_LOST.labels(queue)
        for result in ("requeued", "dead"):
            RECLAIMED.labels(queue, result)
        for priority in PRIORITIES:
            QUEUE_WAIT_SECONDS.labels(queue, priority)
    for queue, task in tasks:
        for counter in (JOBS_FAILED, JOBS_RETRIED, JOBS_DEAD):
            counter.labels(queue, task)
        for outcome in OutcomeKind:
            JOBS_PROCESSED.labels(queue, task, outcome.value)
        PROCESSING_SECONDS.labels(queue, task)


def declare_producer_series(tasks: Iterable[tuple[str, str]]) -> None:
    """`streamq_jobs_enqueued_total` at zero for every (queue, task) an API can submit."""
    for queue, task in tasks:
        JOBS_ENQUEUED.labels(queue, task)
