"""What gets enqueued: a job request checked and turned into what the store writes.

Pure code, no I/O: the API checks a whole batch with it before anything is stored, and
the worker's cron actor builds its ticks' jobs with it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from .errors import PayloadTooLarge, UnknownTaskType, ValidationError
from .ids import new_job_id
from .job import Priority
from .keys import check_queue_name
from .registry import Registry
from .shards import shard_name, tag_id
from .store import EnqueueSpec

MAX_SCHEDULE_AHEAD_S = 366 * 86_400
MAX_IDEMPOTENCY_KEY_LEN = 256
MAX_KEY_LEN = 256
MAX_TYPE_LEN = 200
MAX_UNIX_S = 253_402_300_799  # 9999-12-31T23:59:59Z


@dataclass(frozen=True)
class JobRequest:
    """One job to enqueue (the arguments of `App.enqueue`, as a value)."""

    type: str
    payload: dict[str, Any] | None = None
    priority: str | None = None
    delay: float | timedelta | None = None
    run_at: datetime | float | None = None
    max_retries: int | None = None
    timeout: float | None = None
    idempotency_key: str | None = None
    queue: str | None = None
    partition_key: str | None = None
    """Jobs with the same partition key land on the same shard of a sharded queue, so
    that they keep their order there."""


def build_spec(registry: Registry, r: JobRequest) -> EnqueueSpec:
    """Check one request and turn it into what the store writes; raises, stores nothing.

    With tasks registered, the type must be one of them and the payload must match its
    signature; with none (a bare producer), any type and JSON object are accepted."""
    s = registry.settings
    task = registry.tasks.get(r.type)
    if task is None and registry.tasks:
        raise UnknownTaskType(f"unknown task type {r.type!r}", field="type")
    if not isinstance(r.type, str) or not 0 < len(r.type) <= MAX_TYPE_LEN:
        raise ValidationError(f"type must be 1 to {MAX_TYPE_LEN} characters", field="type")
    payload = {} if r.payload is None else r.payload
    if task is not None:
        task.validate(payload)
    elif not isinstance(payload, dict):
        raise ValidationError("payload must be a JSON object", field="payload")
    body = _payload_bytes(payload, s.max_payload_bytes)
    opts = task.options if task else None
    priority = Priority.parse(r.priority or (opts.priority if opts else "normal")).value
    max_retries = _pick(r.max_retries, opts.max_retries if opts else s.max_retries)
    if max_retries < 0 or max_retries > 1000:
        raise ValidationError("max_retries must be between 0 and 1000", field="max_retries")
    timeout = _pick(r.timeout, opts.timeout_s if opts else s.job_timeout_s)
    if not 0 < timeout <= 86_400 * 7:
        raise ValidationError("timeout must be > 0 and at most 7 days", field="timeout")
    delay_ms, run_at_ms = schedule(r.delay, r.run_at)
    key = r.idempotency_key
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_LEN:
        raise ValidationError(
            f"idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters",
            field="idempotency_key",
        )
    queue, shard = destination(registry, r)
    return EnqueueSpec(
        queue=shard_name(queue, shard),
        job_id=tag_id(new_job_id(), shard),
        type=r.type,
        payload=body,
        priority=priority,
        max_retries=max_retries,
        timeout_s=float(timeout),
        delay_ms=delay_ms,
        run_at_ms=run_at_ms,
        idempotency_key=key,
        fingerprint=hashlib.blake2b(r.type.encode() + b"\0" + body, digest_size=12).hexdigest(),
    )


def destination(registry: Registry, r: JobRequest) -> tuple[str, int]:
    """The queue and shard a job goes to. A concurrency-limited type lives on its home
    shard, so that its limit holds across the queue; otherwise the partition key, else
    the idempotency key picks the shard (a replay lands where the first write did), else
    the producer's round robin."""
    task = registry.tasks.get(r.type)
    opts = task.options if task else None
    queue = check_queue_name(r.queue) if r.queue is not None else (
        opts.queue if opts else registry.settings.queue
    )
    key = r.partition_key
    if key is not None and not (isinstance(key, str) and 0 < len(key) <= MAX_KEY_LEN):
        raise ValidationError(f"partition key must be 1 to {MAX_KEY_LEN} characters",
                              field="partition_key")
    home = r.type if opts and opts.concurrency else key or r.idempotency_key
    return queue, registry.layout.shard_for(queue, home)


def _pick(given: Any, default: Any) -> Any:
    return default if given is None else given


def _payload_bytes(payload: dict[str, Any], limit: int) -> bytes:
    try:
        body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise ValidationError(f"payload is not JSON-serialisable: {exc}", field="payload") from None
    if len(body) > limit:
        raise PayloadTooLarge(
            f"payload is {len(body)} bytes, over the limit of {limit}", field="payload"
        )
    return body


def schedule(delay: float | timedelta | None, run_at: datetime | float | None) -> tuple[int, int]:
    """(delay_ms, run_at_ms) from the caller's delay or absolute time, checked."""
    if delay is not None and run_at is not None:
        raise ValidationError("give delay or run_at, not both", field="delay")
    if delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        if seconds != seconds or seconds < 0 or seconds > MAX_SCHEDULE_AHEAD_S:
            raise ValidationError("delay must be 0 to 366 days, in seconds", field="delay")
        return round(seconds * 1000), 0
    if run_at is not None:
        ts = run_at.timestamp() if isinstance(run_at, datetime) else float(run_at)
        if ts != ts or ts <= 0:
            raise ValidationError("run_at must be a positive time", field="run_at")
        if ts - time.time() > MAX_SCHEDULE_AHEAD_S:
            raise ValidationError("run_at is more than 366 days ahead", field="run_at")
        return 0, round(ts * 1000)
    return 0, 0


def to_ms(value: datetime | float | int | None, name: str) -> int | None:
    """Unix milliseconds of a timezone-aware datetime or unix seconds; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(f"{name} must be timezone-aware", field=name)
        return round(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValidationError(f"{name} must be a datetime or unix seconds", field=name)
    if value < 0:
        raise ValidationError(f"{name} must not be negative", field=name)
    if value > MAX_UNIX_S:  # beyond year 9999: no stream id or score can hold it
        raise ValidationError(f"{name} is too far in the future", field=name)
    return round(value * 1000)


def time_window(
    since: datetime | float | None, until: datetime | float | None
) -> tuple[int | None, int | None]:
    """[since, until] in unix ms, checked to be in order."""
    since_ms, until_ms = to_ms(since, "since"), to_ms(until, "until")
    if since_ms is not None and until_ms is not None and since_ms > until_ms:
        raise ValidationError("since must not be after until", field="since")
    return since_ms, until_ms
