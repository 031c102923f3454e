"""One error hierarchy with stable codes, shared by the library, the API and the CLI."""

from __future__ import annotations

from typing import Any, ClassVar


class StreamqError(Exception):
    """Base class for every error streamq raises."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ConfigurationError(StreamqError):
    """Raised when a setting, task declaration or cron expression is invalid."""

    code = "configuration"
    http_status = 500
    title = "Invalid configuration"


class ValidationError(StreamqError):
    """Raised when a job's type, payload or options fail validation; nothing is stored."""

    code = "validation"
    http_status = 422
    title = "Validation failed"

    def __init__(self, message: str, field: str | None = None, **detail: Any) -> None:
        super().__init__(message, **detail)
        self.field = field


class UnknownTaskType(ValidationError):
    """Raised when a job names a task type the application does not register."""

    code = "unknown-task"
    title = "Unknown task type"


class PayloadTooLarge(ValidationError):
    """Raised when a serialized payload exceeds `max_payload_bytes`."""

    code = "payload-too-large"
    http_status = 413
    title = "Payload too large"


class JobNotFound(StreamqError):
    """Raised when a job id has no record (never existed, or its retention expired)."""

    code = "job-not-found"
    http_status = 404
    title = "Job not found"


class IdempotencyConflict(StreamqError):
    """Raised when an idempotency key is reused with a different job description."""

    code = "idempotency-conflict"
    http_status = 409
    title = "Idempotency key conflict"


class InvalidTransition(StreamqError):
    """Raised when a job cannot make the requested change from its current state."""

    code = "invalid-transition"
    http_status = 409
    title = "Invalid state transition"


class QueueFull(StreamqError):
    """Raised when a queue's backlog is above its limit; retry after a while."""

    code = "queue-full"
    http_status = 429
    title = "Queue backlog over its limit"

    def __init__(self, message: str, retry_after_s: int = 1, **detail: Any) -> None:
        super().__init__(message, **detail)
        self.retry_after_s = retry_after_s


class BackendUnavailable(StreamqError):
    """Raised when Redis cannot be reached or does not answer within the deadline."""

    code = "backend-unavailable"
    http_status = 503
    title = "Redis unavailable"


class HistoryUnavailable(BackendUnavailable):
    """Raised when the history archive (PostgreSQL) cannot be reached or used."""

    code = "history-unavailable"
    http_status = 503
    title = "History archive unavailable"


class Retry(Exception):
    """Raised by a handler to retry the job after `delay` seconds (or the backoff policy)."""

    def __init__(self, delay: float | None = None, reason: str = "retry requested") -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


class Fail(Exception):
    """Raised by a handler to fail the job at once, skipping any retries left."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class QueueNotFound(StreamqError):
    """Raised when a queue is neither declared by the application nor present in Redis."""

    code = "queue-not-found"
    http_status = 404
    title = "Queue not found"


class ResultTooLarge(StreamqError):
    """Names the failure of an attempt whose serialized result exceeds `max_result_bytes`:
    the job is dead-lettered without a retry (its result would be as large next time)."""

    code = "result-too-large"
    http_status = 500
    title = "Result too large"
