"""Executor: runs one attempt and says what came of it; persisting is the completer's job."""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import orjson
import pydantic
from anyio.abc import ObjectSendStream

from ..context import Context, job_logger
from ..errors import Fail, ResultTooLarge, Retry
from ..job import Delivery, Outcome, OutcomeKind
from ..metrics import IN_FLIGHT, PROCESSING_SECONDS
from ..policy import Backoff, decide_failure
from ..registry import Registry
from ..shards import queue_of
from ..store import Store
from ..task import summarize_errors
from .channel import JobChannel
from .deadlines import Deadlines
from .state import NodeState

if TYPE_CHECKING:
    from ..tracing.spans import Tracing

log = logging.getLogger("streamq.worker")

TRACEBACK_LIMIT = 4000


class Executor:
    """Shared by the node's executor coroutines; each runs `run()` over one job channel."""

    def __init__(
        self, registry: Registry, store: Store, state: NodeState, tracing: Tracing | None = None
    ) -> None:
        self.registry = registry
        self.store = store
        self.state = state
        self.tracing = tracing
        self.threads = anyio.CapacityLimiter(state.slots.total)
        self.deadlines = Deadlines()
        self._labels: dict[str, str] = {}  # a job's queue (or shard) -> its metrics label
        self._histograms: dict[tuple[str, str], Any] = {}

    async def run(
        self, jobs: JobChannel[Delivery], outcomes: ObjectSendStream[Outcome]
    ) -> None:
        # The per-job path avoids anyio checkpoints where no wait is needed (a channel
        # that already holds an item, an outcome buffer with room): at thousands of jobs
        # a second each checkpoint is a measurable share of the node's CPU.
        counts = IN_FLIGHT.counts
        async with outcomes:
            while True:
                try:
                    delivery = jobs.receive_nowait()
                except anyio.WouldBlock:
                    try:
                        delivery = await jobs.receive()
                    except anyio.EndOfStream:
                        return
                except anyio.EndOfStream:
                    return
                label = self._label(delivery.queue)
                counts[label] += 1
                try:
                    if self.tracing is None:
                        outcome = await self.run_one(delivery)
                    else:
                        outcome = await self.tracing.process(delivery, self.state.name,
                                                             self.run_one)
                except Exception as exc:  # a defect of ours, not the handler's
                    log.exception("executing job %s failed", delivery.job_id,
                                  extra=_fields(delivery))
                    outcome = _final(delivery, "internal error", type(exc).__name__, str(exc))
                finally:
                    counts[label] -= 1
                    self.state.slots.release()
                try:
                    outcomes.send_nowait(outcome)  # type: ignore[attr-defined]
                except anyio.WouldBlock:
                    await outcomes.send(outcome)

    def _label(self, queue: str) -> str:
        label = self._labels.get(queue)
        if label is None:
            label = self._labels[queue] = queue_of(queue)
            IN_FLIGHT.track(label)
        return label

    def _duration(self, d: Delivery) -> Any:
        key = (d.queue, d.type)
        child = self._histograms.get(key)
        if child is None:
            child = self._histograms[key] = PROCESSING_SECONDS.labels(queue_of(d.queue), d.type)
        return child

    async def run_one(self, d: Delivery) -> Outcome:
        """Validate, run the handler under its time limit, and classify the result."""
        task = self.registry.tasks.get(d.type)
        if task is None:
            return _final(d, "unknown task", "UnknownTaskType", self._unknown(d.type))
        try:
            kwargs = task.validate_json(d.payload)
        except pydantic.ValidationError as exc:
            return _final(d, "invalid payload", "ValidationError", summarize_errors(exc))
        # Only a handler that declares `ctx: Context` gets one: building it costs more
        # than the rest of the per-job path before the handler.
        ctx = self._context(d) if task.context_param is not None else None
        started = time.perf_counter()
        if self.state.cancel_requested.pop(d.job_id, None) is not None:
            return Outcome(d, OutcomeKind.CANCELLED, reason="cancelled")  # before it ran
        # One scope serves both the time limit (cancelled by the shared deadline timers)
        # and cancellation requests (the listener or heartbeat calls cancel() on it).
        clock = asyncio.get_running_loop().time  # anyio's clock, without its backend lookup
        deadline = clock() + d.timeout_s
        with anyio.CancelScope() as scope:
            tick = self.deadlines.add(scope, deadline, d.timeout_s)
            self.state.running[d.job_id] = scope
            try:
                result = await task.invoke(kwargs, ctx, self.threads)
                return self._success(d, result, time.perf_counter() - started)
            except Exception as exc:
                return self._failure(d, exc, task.options.backoff, task.options.fail_on)
            finally:
                self.deadlines.discard(scope, tick)
                self.state.running.pop(d.job_id, None)
                self._duration(d).observe(time.perf_counter() - started)
        if clock() >= deadline:  # cancelled by its deadline: a time-out
            return self._failure(
                    d,
                    TimeoutError(f"attempt exceeded its timeout of {d.timeout_s} s"),
                    task.options.backoff,
                    (),
                    reason="timeout",
                )
        return Outcome(d, OutcomeKind.CANCELLED, reason="cancelled")

    def _unknown(self, type_: str) -> str:
        known = sorted(self.registry.tasks)
        shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
        return f"no task named {type_!r} on this worker (it runs {shown or 'no tasks'})"

    def _context(self, d: Delivery) -> Context:
        async def progress(_queue: str, job_id: str, fraction: float, msg: str | None) -> None:
            await self.store.set_progress(d.queue, job_id, d.run, fraction, msg)  # its shard

        return Context(
            job_id=d.job_id,
            type=d.type,
            queue=queue_of(d.queue),
            attempt=d.attempt,
            max_retries=d.max_retries,
            enqueued_at=datetime.fromtimestamp(d.enqueued_ms / 1000, tz=UTC),
            deadline=time.monotonic() + d.timeout_s,
            log=job_logger(d.job_id, d.type, queue_of(d.queue), d.attempt),
            _progress=progress,
        )

    def _success(self, d: Delivery, result: Any, duration_s: float) -> Outcome:
        try:
            body = orjson.dumps(result)
        except TypeError as exc:
            return _final(d, "result not serialisable", "TypeError", str(exc))
        limit = self.store.settings.max_result_bytes
        if len(body) > limit:  # as large next time: no retry
            return _final(d, "result too large", ResultTooLarge.__name__,
                          f"result is {len(body)} bytes, over the limit of {limit} bytes "
                          "(STREAMQ_MAX_RESULT_BYTES)")
        # orjson's bytes keep its 4 KiB write buffer: outcomes wait for the completer, so
        # a right-sized copy (at 1,000 jobs in flight, 4 MiB less).
        return Outcome(d, OutcomeKind.SUCCEEDED, result=bytes(memoryview(body)),
                       duration_s=duration_s)

    def _failure(
        self,
        d: Delivery,
        exc: BaseException,
        backoff: Backoff,
        fail_on: tuple[type[BaseException], ...],
        reason: str = "error",
    ) -> Outcome:
        requested: float | None = None
        final = False
        if isinstance(exc, Retry):
            requested, reason = exc.delay, exc.reason
        elif isinstance(exc, Fail):
            final, reason = True, exc.reason
        elif fail_on and isinstance(exc, fail_on):
            final, reason = True, "non-retryable error"
        decision = decide_failure(d.attempt, d.max_retries, backoff, requested, final, reason)
        tb = "".join(traceback.format_exception(exc))[-TRACEBACK_LIMIT:]
        kind = OutcomeKind.RETRY if decision.retry else OutcomeKind.FAILED
        return Outcome(
            d,
            kind,
            error=str(exc)[:2000],
            error_type=type(exc).__name__,
            traceback=tb,
            reason=decision.reason,
            retry_delay_ms=decision.delay_ms,
        )


def _final(d: Delivery, reason: str, error_type: str, error: str) -> Outcome:
    return Outcome(d, OutcomeKind.FAILED, error=error[:2000], error_type=error_type, reason=reason)


def _fields(d: Delivery) -> dict[str, object]:
    """The job's identity, bound on a log record (structured logs show them as fields)."""
    return {"job_id": d.job_id, "task": d.type, "queue": d.queue, "attempt": d.attempt}
