"""A liveness file: touched every few seconds by the process's own event loop, so a
container health check can tell a live process from a hung one without starting a
Python interpreter per probe:

    test $(( $(date +%s) - $(stat -c %Y "$STREAMQ_LIVENESS_FILE") )) -lt 30

A worker touches it only while its heartbeat actor is not stuck in a beat, so a node
whose loop runs but whose heartbeat hangs is reported too; a Redis that is down is not a
hang (each beat fails within the socket timeout and is retried), so it does not make
every worker look dead.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import anyio

log = logging.getLogger("streamq")


def _always() -> bool:
    return True


async def keep_touched(
    path: str | Path, interval_s: float, healthy: Callable[[], bool] = _always
) -> None:
    """Touch `path` now and every `interval_s` while `healthy()`; remove it when cancelled
    (a clean stop), so a stale file never vouches for a process that is gone."""
    target = Path(path)
    try:
        while True:
            if healthy():
                _touch(target)
            await anyio.sleep(interval_s)
    finally:
        _remove(target)


# A touch is one metadata write, quicker than handing it to a thread.
def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
