"""Restart crashed actors with backoff; Redis outages are waited out, not counted."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import anyio
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..metrics import ACTOR_RESTARTS

log = logging.getLogger("streamq.worker")

OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    OSError,
    # redis-py strips the code of these replies (OOM, READONLY, ...) from their text
    OutOfMemoryError,
    ReadOnlyError,
    MasterDownError,
    TryAgainError,
    ClusterDownError,
)


class NodeCrashed(Exception):
    """Raised when an actor crashes more often than its budget allows."""


def is_outage(exc: BaseException) -> bool:
    """Connection loss, timeouts, LOADING, a Redis that refuses writes (OOM, MISCONF)."""
    if isinstance(exc, OUTAGE_ERRORS):
        return True
    text = str(exc)
    if text.startswith("Command # ") and "caused error: " in text:
        # redis-py wraps the error of a pipelined command: "Command # 1 (...) of pipeline
        # caused error: ('OOM command not allowed ...',)"; judge the error itself.
        text = text.split("caused error: ", 1)[1].lstrip("(\"'")
    return isinstance(exc, ResponseError) and text.startswith(
        ("LOADING", "OOM", "MISCONF", "READONLY", "MASTERDOWN", "NOGROUP", "BUSY ",
         "UNBLOCKED")  # a blocking read whose stream was deleted (Redis >= 7)
    )


async def supervise(
    name: str,
    actor: Callable[[], Awaitable[None]],
    crash_budget: int = 10,
    window_s: float = 60.0,
) -> None:
    """Run `actor` until it returns; restart it after a crash, backing off.

    Outages back off up to 2 s and are logged at most every 10 s. Other crashes count
    against `crash_budget` within `window_s`; past it the node stops with NodeCrashed.
    """
    crashes: list[float] = []
    outage_delay = 0.05
    last_outage_log = 0.0
    while True:
        started = time.monotonic()
        try:
            await actor()
            return
        except Exception as exc:
            now = time.monotonic()
            if now - started > 5:
                outage_delay = 0.05
            if is_outage(exc):
                if now - last_outage_log > 10:
                    log.warning("%s: Redis unavailable (%s); retrying", name, exc)
                    last_outage_log = now
                await anyio.sleep(outage_delay)
                outage_delay = min(2.0, outage_delay * 2)
                continue
            crashes = [t for t in crashes if now - t < window_s] + [now]
            ACTOR_RESTARTS.labels(name).inc()
            log.exception("%s crashed (%d in %.0f s)", name, len(crashes), window_s)
            if len(crashes) > crash_budget:
                raise NodeCrashed(f"{name} crashed {len(crashes)} times in {window_s} s") from exc
            await anyio.sleep(min(5.0, 0.1 * 2 ** (len(crashes) - 1)))
