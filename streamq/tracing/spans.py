"""The spans, after OpenTelemetry's messaging semantic conventions: a PRODUCER `send` span
per job at enqueue (a child of the caller's context: the HTTP request's when it carried a
`traceparent`), and a CONSUMER `process` span per attempt, a new trace linked to the
producer span through the trace context stored in the job record. Imported only when
tracing is enabled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from importlib import metadata
from typing import TypeVar

import anyio
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import (
    Link,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TracerProvider,
)

from ..errors import StreamqError
from ..job import Delivery, Outcome, OutcomeKind
from ..keys import GROUP
from ..store import EnqueueResult, EnqueueSpec

SYSTEM = "streamq"
R = TypeVar("R")


class Tracing:
    """Opens streamq's spans on one tracer (from `tracer_provider`, else the global one)."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("streamq", _version(), tracer_provider=tracer_provider)

    async def send(
        self,
        specs: list[EnqueueSpec],
        write: Callable[[list[EnqueueSpec]], Awaitable[list[R]]],
    ) -> list[R]:
        """Write `specs` (with `write`) inside one PRODUCER span per job, each job carrying
        its span's trace context into its record."""
        spans = [self._producer(spec) for spec in specs]
        traced = [replace(spec, trace=_traceparent(span))
                  for spec, span in zip(specs, spans, strict=True)]
        try:
            results = await write(traced)
        except BaseException as exc:
            for span in spans:
                _fail(span, _error_type(exc))
                span.end()
            raise
        for span, result in zip(spans, results, strict=True):
            if isinstance(result, StreamqError):
                _fail(span, result.code)
            elif isinstance(result, EnqueueResult) and not result.created:
                # A replay (idempotency key, or a retried submission): the job stored before.
                span.set_attribute("streamq.job.duplicate", True)
                span.set_attribute("messaging.message.id", result.job_id)
            span.end()
        return results

    def _producer(self, spec: EnqueueSpec) -> Span:
        return self.tracer.start_span(
            f"send {spec.queue}",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": SYSTEM,
                "messaging.destination.name": spec.queue,
                "messaging.operation.type": "send",
                "messaging.operation.name": "send",
                "messaging.message.id": spec.job_id,
                "streamq.task": spec.type,
                "streamq.job.priority": spec.priority,
            },
        )

    async def process(
        self, d: Delivery, consumer: str, run: Callable[[Delivery], Awaitable[Outcome]]
    ) -> Outcome:
        """Run one attempt inside a CONSUMER span linked to the job's producer span; the
        handler's own spans become its children."""
        span = self.tracer.start_span(
            f"process {d.queue}",
            context=otel_context.Context(),  # a trace of its own, linked to the producer's
            kind=SpanKind.CONSUMER,
            links=_links(d.trace),
            attributes={
                "messaging.system": SYSTEM,
                "messaging.destination.name": d.queue,
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
                "messaging.message.id": d.job_id,
                "messaging.consumer.group.name": GROUP,
                "messaging.client.id": consumer,
                "streamq.task": d.type,
                "streamq.job.priority": d.priority,
                "streamq.job.attempt": d.attempt,
                "streamq.job.run": d.run,
            },
        )
        try:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                outcome = await run(d)
        except BaseException as exc:
            _fail(span, _error_type(exc))
            span.end()
            raise
        span.set_attribute("streamq.job.outcome", outcome.kind.value)
        if outcome.kind in (OutcomeKind.RETRY, OutcomeKind.FAILED):
            _fail(span, outcome.error_type or outcome.reason or "error", outcome.error)
        span.end()
        return outcome

    def middleware(self) -> Middleware:
        """An aiohttp middleware: a request that carries a `traceparent` (or what the global
        propagator reads) becomes the parent of the spans its handler opens, unless a
        server span is already current (the aiohttp instrumentation made one)."""

        @web.middleware
        async def continue_trace(request: web.Request, handler: Handler) -> web.StreamResponse:
            if trace.get_current_span().get_span_context().is_valid:
                return await handler(request)
            token = otel_context.attach(propagate.extract(request.headers))
            try:
                return await handler(request)
            finally:
                otel_context.detach(token)

        return continue_trace


def _traceparent(span: Span) -> str:
    """The span's context as a W3C `traceparent` ("" when it has none: no SDK)."""
    c = span.get_span_context()
    if not c.is_valid:
        return ""
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{c.trace_flags:02x}"


def _links(traceparent: str) -> list[Link]:
    """A link to the producer span a stored `traceparent` names (none if malformed)."""
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return []
    try:
        producer = SpanContext(int(parts[1], 16), int(parts[2], 16), is_remote=True,
                               trace_flags=TraceFlags(int(parts[3], 16)))
    except ValueError:
        return []
    return [Link(producer)] if producer.is_valid else []


def _fail(span: Span, error_type: str, description: str | None = None) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, description))


def _error_type(exc: BaseException) -> str:
    if isinstance(exc, StreamqError):
        return exc.code
    if isinstance(exc, anyio.get_cancelled_exc_class()):
        return "cancelled"
    return type(exc).__qualname__


def _version() -> str:
    try:
        return metadata.version("streamq")
    except metadata.PackageNotFoundError:
        return "unknown"
