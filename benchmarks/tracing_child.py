"""One measured process of benchmarks/tracing.py: enqueue N no-op jobs, or drain them with
one burst node, and print the CPU time it took as JSON.

    python -m benchmarks.tracing_child enqueue|drain REDIS_URL N trace(0|1)

With trace=1 the process has an SDK TracerProvider whose batch processor hands spans to
an exporter that only counts them, and STREAMQ_OTEL=true; with trace=0 neither. Runs
against whichever streamq is on PYTHONPATH (the work tree, or an exported commit).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

BATCH = 100


class Counted:
    """A span exporter that keeps nothing: the cost measured is streamq's, not a backend's."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def tracer_provider(exporter: Counted) -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))  # type: ignore[arg-type]
    trace.set_tracer_provider(provider)
    return provider


async def enqueue(app: Any, n: int) -> None:
    from streamq import JobRequest

    for start in range(0, n, BATCH):
        await app.enqueue_many([JobRequest("bench.noop", {}) for _ in range(min(BATCH, n - start))])


async def drain(app: Any, n: int) -> None:
    from streamq.worker.node import Node

    code = await Node(app, concurrency=50, burst=True).run()
    assert code == 0, code


def main() -> None:
    role, url, n, traced = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
    exporter = Counted()
    provider = tracer_provider(exporter) if traced else None
    os.environ["STREAMQ_OTEL"] = "true" if traced else "false"
    from streamq import App

    app = App(redis_url=url)

    @app.task("bench.noop", max_retries=0)
    async def noop() -> None:
        return None

    async def measured() -> tuple[float, float]:
        await app.store.redis.ping()  # connected before the clock starts
        cpu, wall = time.process_time(), time.perf_counter()
        await (enqueue(app, n) if role == "enqueue" else drain(app, n))
        if provider is not None:
            provider.force_flush()
        return time.process_time() - cpu, time.perf_counter() - wall

    cpu_s, wall_s = asyncio.run(measured())
    loaded = sorted(m for m in sys.modules
                    if m.startswith("opentelemetry.sdk.trace") or m.startswith("streamq.tracing."))
    print(json.dumps({"cpu_s": cpu_s, "wall_s": wall_s, "spans": exporter.spans,
                      "tracing_modules": loaded}))


if __name__ == "__main__":
    main()
