"""Job records, statuses, priorities and outcomes, and their Redis (de)serialization."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from .errors import ValidationError
from .shards import shard_name, split


def record_payload(record: Mapping[bytes, bytes]) -> bytes | None:
    """A record's payload, joined from the 64-byte pieces the scripts store it in so the
    record keeps Redis's compact hash encoding (`payload.n`, then `payload.0`, ...), or its
    single `payload` field (short or very long payloads)."""
    whole = record.get(b"payload")
    count = record.get(b"payload.n")
    if whole is not None or count is None:
        return whole
    return b"".join(record.get(b"payload.%d" % i, b"") for i in range(int(count)))


def _json(value: bytes | None) -> Any:
    return orjson.loads(value) if value else None


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    PROCESSING = "processing"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @classmethod
    def spellings(cls) -> tuple[str, ...]:
        """Every accepted name, in any case: the priorities and their aliases."""
        return (*(p.value for p in cls), *PRIORITY_ALIASES)

    @classmethod
    def parse(cls, value: str | Priority) -> Priority:
        """Accept `medium` as an alias of `normal`; refuse anything else clearly."""
        text = str(value).lower()
        text = PRIORITY_ALIASES.get(text, text)
        try:
            return cls(text)
        except ValueError:
            raise ValidationError(
                f"unknown priority {value!r}; use high, normal (medium) or low",
                field="priority",
            ) from None


PRIORITY_ALIASES = {"medium": "normal"}
"""Other names of priorities (the common Go job queues say medium)."""


def ms_to_datetime(ms: int | None) -> datetime | None:
    return None if not ms else datetime.fromtimestamp(ms / 1000, tz=UTC)


class Job(BaseModel):
    """A job as its record tells it (`HGETALL streamq:{q}:job:<id>`)."""

    model_config = ConfigDict(frozen=True)

    id: str
    queue: str
    type: str
    payload: Any
    priority: Priority
    status: JobStatus
    attempt: int
    max_retries: int
    timeout_s: float
    deliveries: int
    lost: int
    run: int
    created_at: datetime | None
    scheduled_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    reason: str | None = None
    worker: str | None = None
    progress: float | None = None
    progress_message: str | None = None
    payload_omitted: bool = False
    result_omitted: bool = False
    """In a listing page: True when the payload or result was larger than the page's
    preview bound, and left out; `GET /jobs/{id}` (`get_job`) has it in full."""
    source: Literal["redis", "history"] = "redis"
    """Where the record was read: Redis, or the history archive once Redis forgot it."""
    shard: int = 0
    """The shard of its queue the job lives on (0 unless the queue is sharded)."""

    @property
    def shard_queue(self) -> str:
        """The shard name its keys are built from (the queue itself on shard 0)."""
        return shard_name(self.queue, self.shard)

    @classmethod
    def from_record(cls, job_id: str, name: str, raw: dict[bytes, bytes]) -> Job:
        """Build a Job from `HGETALL` output (bytes keys and values) read from the queue
        or shard `name`."""
        rec = {k.decode(): v for k, v in raw.items()}
        queue, shard = split(name)

        def text(name: str) -> str | None:
            value = rec.get(name)
            return value.decode() if value else None

        def number(name: str) -> int:
            value = rec.get(name)
            return int(value) if value else 0

        def loaded(name: str) -> Any:
            value = rec.get(name)
            return orjson.loads(value) if value else None

        progress = rec.get("progress")
        return cls(
            id=job_id,
            queue=queue,
            type=text("type") or "",
            payload=_json(record_payload(raw)),
            priority=Priority(text("priority") or "normal"),
            status=JobStatus(text("status") or "queued"),
            attempt=number("attempt"),
            max_retries=number("max_retries"),
            timeout_s=float(rec.get("timeout", b"0")),
            deliveries=number("deliveries"),
            lost=number("lost"),
            run=number("run"),
            created_at=ms_to_datetime(number("created")),
            scheduled_at=ms_to_datetime(number("due")),
            started_at=ms_to_datetime(number("started")),
            finished_at=ms_to_datetime(number("finished")),
            result=loaded("result"),
            error=text("error"),
            error_type=text("error_type"),
            traceback=text("traceback"),
            reason=text("reason"),
            worker=text("worker"),
            progress=float(progress) if progress else None,
            progress_message=text("progress_message"),
            shard=shard,
        )


# Delivery and Outcome are values, never changed once built (`dataclasses.replace` makes
# a new one), but not `frozen`: a frozen dataclass's __init__ sets each field through
# object.__setattr__, and a worker builds three per job (with the executor's clock read,
# about 0.9x worker CPU per job in `python -m benchmarks.run --only streamq`).
@dataclass(slots=True)
class Delivery:
    """One stream entry handed to a worker: everything needed to run the attempt."""

    queue: str
    priority: str
    entry_id: bytes
    job_id: str
    type: str
    payload: bytes
    timeout_s: float
    max_retries: int
    attempt: int
    enqueued_ms: int
    run: int = 0
    trace: str = ""  # the producer's traceparent, read only when tracing is on


class OutcomeKind(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class Outcome:
    """What one attempt produced; persisted by the completer, fenced on `run`."""

    delivery: Delivery
    kind: OutcomeKind
    result: bytes = b""
    error: str = ""
    error_type: str = ""
    traceback: str = ""
    reason: str = ""
    retry_delay_ms: int = 0
    duration_s: float = 0.0


class JobPage(BaseModel):
    """One page of `list_jobs`; pass `next_cursor` back for the next one (None: the end).
    A page may hold fewer than `limit` jobs when its scan budget ran out; keep going
    while `next_cursor` is set."""

    model_config = ConfigDict(frozen=True)

    jobs: list[Job]
    next_cursor: str | None


class DeadLetter(BaseModel):
    """A dead-letter entry (`XRANGE streamq:{q}:dead`) of a job that is still failed."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    queue: str
    type: str
    reason: str
    error_type: str
    error: str
    fingerprint: str
    """Groups failures of the same kind: error type plus the message with numbers, ids
    and quoted values masked."""
    attempt: int
    failed_at: datetime
    entry_id: str
    shard: int = 0
    """The shard of its queue whose dead-letter stream holds the entry."""

    @property
    def shard_queue(self) -> str:
        return shard_name(self.queue, self.shard)


class DeadLetterPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: list[DeadLetter]
    next_cursor: str | None


class Event(BaseModel):
    """One state change from a queue's events stream (`XRANGE streamq:{q}:events`). Up to
    ten changes of one batch script call share an entry, and so its id."""

    model_config = ConfigDict(frozen=True)

    id: str
    queue: str
    job_id: str
    from_status: str | None
    to_status: str
    attempt: int
    time: datetime
    worker: str | None
    shard: int = 0
    """The shard of its queue whose events stream holds it (event ids are per shard)."""

    @property
    def shard_queue(self) -> str:
        return shard_name(self.queue, self.shard)

    @classmethod
    def from_entry(
        cls, name: str, entry_id: bytes | str, fields: dict[bytes, bytes]
    ) -> list[Event]:
        """The state changes one entry holds: one, or a batch script's several (their
        `job`, `from`, `to` and `attempt` values separated by spaces; `time` and `worker`
        shared)."""

        def values(field: bytes, n: int) -> list[str]:
            text = fields.get(field, b"").decode()
            parts = text.split(" ") if n > 1 else [text]
            return (parts + [""] * n)[:n]  # a damaged entry reads as defaults, not an error

        queue, shard = split(name)
        event_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        jobs = fields.get(b"job", b"").decode().split(" ")
        n = len(jobs)
        time = datetime.fromtimestamp(_number(fields.get(b"time", b"").decode()) / 1000,
                                      tz=UTC)
        worker = fields.get(b"worker", b"").decode() or None
        return [
            cls(id=event_id, queue=queue, shard=shard, job_id=job_id,
                from_status=from_status or None, to_status=to_status,
                attempt=_number(attempt), time=time, worker=worker)
            for job_id, from_status, to_status, attempt in zip(
                jobs, values(b"from", n), values(b"to", n), values(b"attempt", n), strict=True
            )
            if job_id  # an entry without a job names no change
        ]


def _number(text: str) -> int:
    return int(text) if text.isdigit() else 0
