"""Tasks of the tracing tests. A worker process running this module (STREAMQ_OTEL=true)
exports its spans to the file named by STREAMQTEST_SPANS, one JSON object a line,
written as each span ends, so that what it exported survives its SIGKILL."""

from __future__ import annotations

import os

import anyio

from streamq import App, Context
from tests.support.ledger import record

SPANS_ENV = "STREAMQTEST_SPANS"


def register(app: App) -> App:
    @app.task("traced.flaky", max_retries=2)
    async def flaky(failures: int, ctx: Context) -> int:
        """Fails its first `failures` attempts."""
        if ctx.attempt <= failures:
            raise RuntimeError(f"planned failure of attempt {ctx.attempt}")
        return ctx.attempt

    @app.task("traced.work", max_retries=0)
    async def work(seconds: float, ctx: Context) -> str:
        """Records its start (in the ledger), then sleeps."""
        record("start", ctx)
        await anyio.sleep(seconds)
        return ctx.job_id

    return app


def export_spans_to_file(path: str) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    out = open(path, "a", buffering=1)  # lives as long as the process
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(
        out=out, formatter=lambda span: span.to_json(indent=None) + "\n")))
    trace.set_tracer_provider(provider)


if os.environ.get(SPANS_ENV):
    export_spans_to_file(os.environ[SPANS_ENV])
app = register(App())
