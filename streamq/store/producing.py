"""Writing new jobs: enqueue (one script call per queue and batch) and cron ticks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..errors import IdempotencyConflict, QueueFull, StreamqError
from .base import StoreBase
from .classify import translate_errors
from .codes import CronCode, EnqueueCode
from .results import EnqueueResult, EnqueueSpec, as_str

ENQUEUE_CALL_JOBS = 200
"""Jobs per enqueue script call: enough to spread the call's own cost thin, few enough
that one call never holds Redis for more than a few milliseconds."""


def queue_full(queue: str, backlog: int, limit: int) -> QueueFull:
    return QueueFull(
        f"queue {queue!r} holds {backlog} queued jobs, at its limit of {limit}",
        retry_after_s=1,
    )


@translate_errors
class Producing(StoreBase):
    """Writes of new jobs."""

    async def enqueue(self, specs: Sequence[EnqueueSpec]) -> list[EnqueueResult]:
        """Write every job in one round trip; raises on the first refused one.

        Each job is checked on its own, so a refusal (conflict, full queue) leaves the
        other jobs written; callers validate everything first so that this is rare.
        """
        results = await self.enqueue_each(specs)
        for result in results:
            if isinstance(result, StreamqError):
                raise result
        return [r for r in results if isinstance(r, EnqueueResult)]

    async def enqueue_each(
        self, specs: Sequence[EnqueueSpec]
    ) -> list[EnqueueResult | StreamqError]:
        """Write every job in one round trip, one script call per queue; a refused job
        (idempotency conflict, full queue) gets its error in its place and changes nothing.

        One job is one plain EVALSHA (`_run_script`)."""
        by_queue: dict[str, list[int]] = defaultdict(list)
        for i, spec in enumerate(specs):
            by_queue[spec.queue].append(i)
        calls = [
            positions[c : c + ENQUEUE_CALL_JOBS]
            for positions in by_queue.values()
            for c in range(0, len(positions), ENQUEUE_CALL_JOBS)
        ]
        now = self.now_arg()
        scripted = []
        for positions in calls:
            chunk = [specs[i] for i in positions]
            scripted.append(self._enqueue_call(chunk[0].queue, chunk, now))
        replies = await self._run_script(self.scripts.enqueue, scripted)
        results: list[EnqueueResult | StreamqError | None] = [None] * len(specs)
        for positions, reply in zip(calls, replies, strict=True):
            for n, i in enumerate(positions):
                results[i] = self._enqueue_result(specs[i], reply[3 * n : 3 * n + 3])
        return [r for r in results if r is not None]

    def _enqueue_call(
        self, queue: str, specs: Sequence[EnqueueSpec], now: int
    ) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of one enqueue script call writing `specs` (all of `queue`)."""
        s = self.settings
        k = self.keys(queue)
        keys = [
            *k.streams, k.scheduled, k.index("queued"), k.index("scheduled"), k.events,
            k.index_all, k.types,
        ]
        args: list[Any] = [
            now, s.idempotency_ttl_s * 1000, s.events_max_entries, s.max_backlog,
            k.wake_channel,
        ]
        for spec in specs:
            keys += [k.job(spec.job_id), k.index_type(spec.type)]
            if spec.idempotency_key is not None:
                keys.append(k.idempotency(spec.idempotency_key))
            args += [
                spec.job_id, spec.type, spec.payload, spec.priority, spec.max_retries,
                repr(spec.timeout_s), spec.delay_ms, spec.run_at_ms, spec.fingerprint,
                0 if spec.idempotency_key is None else 1, spec.trace,
            ]
        return keys, args

    def _enqueue_result(self, spec: EnqueueSpec, reply: Any) -> EnqueueResult | StreamqError:
        code, value = EnqueueCode(int(reply[0])), as_str(reply[1])
        if code is EnqueueCode.CREATED:
            return EnqueueResult(value, True, as_str(reply[2]))
        if code is EnqueueCode.REPLAYED:
            return EnqueueResult(value, False, "existing")
        if code is EnqueueCode.KEY_CONFLICT:
            return IdempotencyConflict(
                f"idempotency key {spec.idempotency_key!r} already names job "
                f"{value} with a different type or payload",
                job_id=value,
            )
        return queue_full(spec.queue, int(value), self.settings.max_backlog)

    async def cron_last(self, queue: str, names: Sequence[str]) -> list[int | None]:
        """The last tick (ms) taken by each cron, None for a cron never seen."""
        values = await self.redis.hmget(self.keys(queue).cron, list(names))
        return [None if v is None else int(v) for v in values]

    async def cron_begin(self, queue: str, name: str, tick_ms: int) -> int:
        """Give a new cron its starting point (kept if it has one); returns its last tick."""
        key = self.keys(queue).cron
        pipe = self.redis.pipeline(transaction=True)
        pipe.hsetnx(key, name, tick_ms)
        pipe.hget(key, name)
        _, last = await self._execute(pipe)
        return int(last)

    async def cron_fire(
        self, spec: EnqueueSpec, name: str, tick_ms: int, fire: bool
    ) -> tuple[CronCode, str]:
        """Take one tick of a cron: write its job (fire) or only move past it (skip).
        Returns the code and the job id (fired), the last tick (taken, skipped) or the
        backlog (queue full)."""
        k = self.keys(spec.queue)
        s = self.settings
        reply = await self.scripts.cron(
            keys=[
                k.cron, k.job(spec.job_id), k.stream(spec.priority), k.index("queued"),
                k.index_all, k.index_type(spec.type), k.types, k.events,
            ],
            args=[
                self.now_arg(), name, tick_ms, 1 if fire else 0, spec.job_id, spec.type,
                spec.payload, spec.priority, spec.max_retries, repr(spec.timeout_s),
                s.events_max_entries, s.max_backlog,
            ],
        )
        return CronCode(int(reply[0])), as_str(reply[1])
