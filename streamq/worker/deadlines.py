"""Deadlines: the time limits of running attempts, on one timer per tick, not one per job.

A cancel scope with a deadline schedules its own timer and cancels it on exit: with it, a
no-op handler's scope cost 7.0 µs of CPU, against 5.0 for a plain scope registered here
(`python -m benchmarks.worker_cpu`), out of about 45-65 µs a worker spends per job.
Attempts whose limits end in the same tick share one timer here; at thousands of jobs a
second most ticks hold many. A timer that fires cancels the scopes still registered under
its tick, so an attempt is stopped at its deadline or less than one tick after it, never
before (a tick is 10 ms, or 0.2 % of a limit longer than 5 s). The scopes carry no deadline
of their own, so `anyio.current_effective_deadline()` inside a handler does not show the
time limit: a handler that needs it declares `ctx: Context` and reads `ctx.deadline`.
"""

from __future__ import annotations

import asyncio
import math

import anyio

GRAIN = 0.01
"""Seconds per tick for time limits up to `TICKS_PER_LIMIT` x GRAIN (5 s)."""
TICKS_PER_LIMIT = 500
"""Longer limits get ticks of limit / TICKS_PER_LIMIT (0.6 s for the default 300 s): a
timer lives until its tick, empty or not, so under steady traffic a limit keeps at most
about this many whatever its length."""


def grain(limit_s: float) -> float:
    """The tick length for a time limit: the most an attempt may overrun it (0.2 %, or
    10 ms for limits up to 5 s)."""
    return max(GRAIN, limit_s / TICKS_PER_LIMIT)


class Deadlines:
    """Running attempts' scopes by the tick their time limit falls in. Used on one event
    loop's thread only (the executors' and the timers')."""

    def __init__(self) -> None:
        self._ticks: dict[tuple[float, int], set[anyio.CancelScope]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, scope: anyio.CancelScope, deadline: float, limit_s: float) -> tuple[float, int]:
        """Cancel `scope` once the loop's clock has reached `deadline`, the end of a time
        limit of `limit_s` (unless discarded first); returns the tick to discard it by."""
        length = grain(limit_s)
        n = math.ceil(deadline / length)
        if n * length < deadline:  # float rounding: the tick must not end before it
            n += 1
        tick = (length, n)
        scopes = self._ticks.get(tick)
        if scopes is None:
            scopes = self._ticks[tick] = set()
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._loop.call_at(n * length, self._fire, tick)
        scopes.add(scope)
        return tick

    def discard(self, scope: anyio.CancelScope, tick: tuple[float, int]) -> None:
        """The attempt has ended: its scope is no longer to be cancelled. The tick keeps
        its timer until it fires: the next attempts to start end in it too."""
        scopes = self._ticks.get(tick)
        if scopes is not None:
            scopes.discard(scope)

    @property
    def ticks(self) -> int:
        """Ticks with a timer set, empty or not (for tests and debugging)."""
        return len(self._ticks)

    def __len__(self) -> int:
        """Scopes still registered (for tests and debugging)."""
        return sum(len(scopes) for scopes in self._ticks.values())

    def _fire(self, tick: tuple[float, int]) -> None:
        assert self._loop is not None
        due = tick[0] * tick[1]
        if self._loop.time() < due:  # the loop runs timers up to its clock resolution early
            self._loop.call_at(due, self._fire, tick)
            return
        for scope in self._ticks.pop(tick, ()):
            scope.cancel()
