"""What a running handler may know and do about its own job."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

logger = logging.getLogger("streamq.job")

ProgressSink = Callable[[str, str, float, str | None], Awaitable[None]]


@dataclass
class Context:
    """Passed to a handler that declares a `ctx: Context` parameter."""

    job_id: str
    type: str
    queue: str
    attempt: int
    max_retries: int
    enqueued_at: datetime
    deadline: float
    """`time.monotonic()` value after which the attempt is cancelled as timed out."""
    log: logging.LoggerAdapter[logging.Logger] = field(repr=False)
    _progress: ProgressSink | None = field(default=None, repr=False)

    @property
    def time_left_s(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    async def progress(self, fraction: float, message: str | None = None) -> None:
        """Store progress (0..1) on the job record, visible through `get_job`."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("progress is a fraction between 0 and 1")
        if self._progress is not None:
            await self._progress(self.queue, self.job_id, fraction, message)


def job_logger(job_id: str, type_: str, queue: str, attempt: int) -> logging.LoggerAdapter[Any]:
    """A logger with the job's identity bound, for structured logs."""
    return logging.LoggerAdapter(
        logger, {"job_id": job_id, "task": type_, "queue": queue, "attempt": attempt}
    )
