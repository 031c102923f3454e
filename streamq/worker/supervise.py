"""Restart crashed actors with backoff; Redis outages are waited out, not counted."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

import anyio

from ..errors import BackendUnavailable
from ..metrics import ACTOR_RESTARTS

log = logging.getLogger("streamq.worker")


class NodeCrashed(Exception):
    """Raised when an actor crashes more often than its budget allows."""


def is_outage(exc: BaseException) -> bool:
    """Redis unreachable or refusing to serve, as the store classified it."""
    return isinstance(exc, BackendUnavailable)


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
    ACTOR_RESTARTS.labels(name)  # at zero, so the first restart shows in increase()
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
