"""API metrics: request counts and durations by route template, and the queue gauges.

The queue gauges come from one collector, the API (`queue_metrics`), not from every worker
replica: a scrape of /metrics reads every queue's numbers in one round trip first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..errors import StreamqError
from ..metrics import REGISTRY
from ..stats import QueueStats
from .state import call, client

log = logging.getLogger("streamq.api")

HTTP_REQUESTS = Counter(
    "streamq_http_requests_total", "API requests by route template and status.",
    ["method", "route", "status"], registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "streamq_http_request_duration_seconds", "API request handling time.",
    ["method", "route"], registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Labels stay bounded: the route template (`/jobs/{id}`), never the path."""
    started = time.perf_counter()
    info = request.match_info.route.resource
    route = info.canonical if info is not None else "unmatched"
    method = request.method if request.method in METHODS else "other"
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)


class QueueCollector(Collector):
    """Yields the numbers of the last refresh as gauges (one series per queue/priority)."""

    def __init__(self) -> None:
        self.stats: list[QueueStats] = []
        self.up = 0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        per_priority = {
            "length": "Entries in the priority stream (waiting plus in flight).",
            "lag": "Entries not yet delivered to a worker.",
            "pending": "Entries delivered and not yet acknowledged.",
            "oldest_age_seconds": "Age of the oldest entry still in the stream.",
            "paused": "1 when fetching from the priority is paused.",
        }
        for name, doc in per_priority.items():
            family = GaugeMetricFamily(f"streamq_queue_{name}", doc, labels=["queue", "priority"])
            for q in self.stats:
                for p in q.priorities:
                    value = {"oldest_age_seconds": p.oldest_age_s}.get(name, getattr(p, name, 0))
                    family.add_metric([q.queue, p.priority], float(value))
            yield family
        per_queue = {
            "scheduled": "Delayed jobs and retries waiting for their time.",
            "dead": "Dead-letter entries.",
            "workers": "Worker nodes with a recent heartbeat.",
        }
        for name, doc in per_queue.items():
            family = GaugeMetricFamily(f"streamq_queue_{name}", doc, labels=["queue"])
            for q in self.stats:
                family.add_metric([q.queue], float(getattr(q, name)))
            yield family
        yield GaugeMetricFamily(
            "streamq_queue_stats_up", "1 when the last read of queue numbers succeeded.",
            value=self.up,
        )


async def render_metrics(request: web.Request, queues: QueueCollector | None) -> bytes:
    """The process's metrics, plus fresh queue gauges when this process collects them."""
    text = generate_latest(REGISTRY)
    if queues is None:
        return text
    try:
        queues.stats = await call(request, client(request).queue_stats())
        queues.up = 1
    except StreamqError as exc:
        log.warning("queue numbers unavailable for /metrics: %s", exc.message)
        queues.up = 0
    registry = CollectorRegistry(auto_describe=False)
    registry.register(queues)
    return text + generate_latest(registry)
