"""What a worker's log says about a failed job: every failed attempt, every dead letter
(those of the completer, and those of the reclaimer: `lost worker`).

People debug a queue by watching its workers, so each failure gets one line that tells
the story on its own: which job and task, which attempt of how many, the exception, and
what happens next (the retry time, or the dead-letter reason with the traceback). The
same facts are record fields, so JSON logs can be searched by them.

Only outcomes the completer applied are logged: an attempt fenced off by a newer run
changed nothing, and says so at info level in the completer.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from ..job import Outcome, OutcomeKind

log = logging.getLogger("streamq.worker")

LOGGED_TRACEBACK_CHARS = 4000
"""Longest traceback a log record carries (its last characters: the raising frames)."""


def log_outcome(outcome: Outcome) -> None:
    """A failed attempt at WARNING (with its retry time), a dead letter at ERROR."""
    if outcome.kind is OutcomeKind.RETRY:
        _log_retry(outcome)
    elif outcome.kind is OutcomeKind.FAILED:
        _log_dead(outcome)


def _log_retry(o: Outcome) -> None:
    d = o.delivery
    delay_s = o.retry_delay_ms / 1000
    at = datetime.now(UTC) + timedelta(milliseconds=o.retry_delay_ms)
    log.warning(
        "job %s (%s) attempt %d/%d failed: %s; retry in %s at %s",
        d.job_id, d.type, d.attempt, d.max_retries + 1, _error(o), _seconds(delay_s),
        at.isoformat(timespec="milliseconds"),
        extra={**_identity(o), "reason": o.reason, "error_type": o.error_type,
               "error": o.error, "retry_in_s": delay_s, "retry_at": at.isoformat()},
    )


def _log_dead(o: Outcome) -> None:
    d = o.delivery
    extra = {**_identity(o), "reason": o.reason, "error_type": o.error_type, "error": o.error}
    if o.traceback:
        extra["traceback"] = o.traceback[-LOGGED_TRACEBACK_CHARS:]
    log.error(
        "job %s (%s) dead-lettered after attempt %d/%d: %s: %s",
        d.job_id, d.type, d.attempt, d.max_retries + 1, _line(o.reason), _error(o),
        extra=extra,
    )


def log_lost_worker(queue: str, job_id: str, type_: str, lost: int) -> None:
    """A job the reclaimer dead-lettered: the worker running it was lost `lost` times (the
    job may be what kills its workers)."""
    error = f"the worker running this job was lost {lost} time{'s' if lost != 1 else ''}"
    log.error(
        "job %s (%s) dead-lettered: lost worker: %s (STREAMQ_MAX_DELIVERIES); a job that "
        "crashes or freezes its worker ends so", job_id, type_, error,
        extra={"job_id": job_id, "task": type_, "queue": queue, "reason": "lost worker",
               "error_type": "LostWorker", "error": error},
    )


def _identity(o: Outcome) -> dict[str, object]:
    d = o.delivery
    return {"job_id": d.job_id, "task": d.type, "queue": d.queue, "attempt": d.attempt,
            "max_attempts": d.max_retries + 1}


def _error(o: Outcome) -> str:
    """`Type: message` on one line."""
    message = _line(o.error)
    return f"{o.error_type}: {message}" if message else o.error_type


def _line(text: str) -> str:
    """A multi-line text folded into one line, so one record stays one line."""
    return " ".join(text.split())


def _seconds(value: float) -> str:
    return f"{value:.3g} s" if value < 10 else f"{value:.0f} s"
