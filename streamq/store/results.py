"""What the store takes and gives back: plain frozen values, decoded from Redis replies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..job import Delivery


@dataclass(frozen=True, slots=True)
class EnqueueSpec:
    """One validated job, ready to be written."""

    queue: str
    job_id: str
    type: str
    payload: bytes
    priority: str
    max_retries: int
    timeout_s: float
    delay_ms: int = 0
    run_at_ms: int = 0
    idempotency_key: str | None = None
    fingerprint: str = ""
    trace: str = ""  # the producer span's traceparent, kept in the job record


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """An accepted job: its id, whether this call created it (False: a replay of the
    idempotency key or of the same id), and its status as written."""

    job_id: str
    created: bool
    status: str


@dataclass(frozen=True, slots=True)
class FetchResult:
    deliveries: list[Delivery]
    active_priorities: list[str]


@dataclass(frozen=True, slots=True)
class ReclaimResult:
    requeued: int = 0
    dead: int = 0
    dropped: int = 0
    deleted_seen: int = 0
    dead_jobs: tuple[tuple[str, str], ...] = ()
    """(job id, type) of each job dead-lettered as `lost worker`, for the worker's log."""

    def __add__(self, other: ReclaimResult) -> ReclaimResult:
        return ReclaimResult(
            self.requeued + other.requeued,
            self.dead + other.dead,
            self.dropped + other.dropped,
            self.deleted_seen + other.deleted_seen,
            self.dead_jobs + other.dead_jobs,
        )


@dataclass(frozen=True, slots=True)
class PromoteResult:
    promoted: int
    next_due_ms: int | None
    now_ms: int


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    given_back: int
    running: int
    waiting: int


@dataclass(frozen=True, slots=True)
class DeadEntry:
    """A dead-letter stream entry as written by the scripts (`XRANGE streamq:{q}:dead`)."""

    entry_id: str
    job_id: str
    type: str
    reason: str
    error_type: str
    error: str
    attempt: int
    time_ms: int


def pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def as_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def dead_entry(entry_id: Any, fields: dict[bytes, bytes]) -> DeadEntry:
    def text(name: bytes) -> str:
        return fields.get(name, b"").decode()

    return DeadEntry(
        entry_id=as_str(entry_id),
        job_id=text(b"job"),
        type=text(b"type"),
        reason=text(b"reason"),
        error_type=text(b"error_type"),
        error=text(b"error"),
        attempt=int(text(b"attempt") or 0),
        time_ms=int(text(b"time") or 0),
    )
