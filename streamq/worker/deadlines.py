"""Deadlines: the time limits of running attempts, on one timer per tick, not one per job.

A cancel scope with a deadline schedules its own timer and cancels it on exit: with it, a
no-op handler's scope cost 6.6 µs of CPU, against 4.0 for a plain scope registered here
(`python -m benchmarks.worker_cpu`), out of about 50-65 µs a worker spends per job.
Attempts that end in the same `GRAIN`-long tick share one timer here; at thousands of jobs a
second most ticks hold many. A timer that fires cancels the scopes
still registered under its tick, so an attempt is stopped at its deadline or less than one
tick after it, never before.
"""

from __future__ import annotations

import asyncio
import math

import anyio

GRAIN = 0.01
"""Seconds per tick: the most an attempt may overrun its time limit before it is stopped."""


class Deadlines:
    """Running attempts' scopes by the tick their time limit falls in. Used on one event
    loop's thread only (the executors' and the timers')."""

    def __init__(self) -> None:
        self._ticks: dict[int, set[anyio.CancelScope]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, scope: anyio.CancelScope, deadline: float) -> int:
        """Cancel `scope` once the loop's clock has reached `deadline` (unless discarded
        first); returns the tick to discard it by."""
        tick = math.ceil(deadline / GRAIN)
        scopes = self._ticks.get(tick)
        if scopes is None:
            scopes = self._ticks[tick] = set()
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_at(tick * GRAIN, self._fire, tick)
        scopes.add(scope)
        return tick

    def discard(self, scope: anyio.CancelScope, tick: int) -> None:
        """The attempt has ended: its scope is no longer to be cancelled."""
        scopes = self._ticks.get(tick)
        if scopes is not None:
            scopes.discard(scope)

    def __len__(self) -> int:
        """Scopes still registered (for tests and debugging)."""
        return sum(len(s) for s in self._ticks.values())

    def _fire(self, tick: int) -> None:
        assert self._loop is not None
        due = tick * GRAIN
        if self._loop.time() < due:  # the loop runs timers up to its clock resolution early
            self._loop.call_at(due, self._fire, tick)
            return
        for scope in self._ticks.pop(tick, ()):
            scope.cancel()
