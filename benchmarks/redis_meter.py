"""What Redis itself spends on a measurement: CPU (`INFO cpu`) and commands (`INFO
commandstats`), read by the orchestrator before and after and divided by the jobs done.

CPU is the redis-server process's user + system time (all its threads), so other load on
the machine barely moves it, unlike wall-clock figures. What an idle server burns with no
work at all (its timers, about a millisecond a second) is measured once per pass and taken
out, so that a slow system is not charged for the server's clock ticking while it works.
Commands run from Lua scripts are counted as well as the scripts themselves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

IGNORED_COMMANDS = frozenset({"info", "flushall"})
"""The orchestrator's own commands, which fall inside the measured windows."""


@dataclass(frozen=True)
class Snapshot:
    """Redis's cumulative counters at one moment."""

    at: float
    """time.monotonic() when read."""
    cpu_s: float
    commands: dict[str, tuple[int, int]]
    """command -> (calls, usec), from `INFO commandstats`."""


@dataclass(frozen=True)
class Cost:
    """Per-job figures over a window."""

    cpu_us: float
    """Redis CPU µs per job, the idle server's own share taken out."""
    calls: float
    """Commands per job, scripts' inner commands included."""
    commands: dict[str, tuple[float, float]]
    """command -> (calls per job, usec per job); a script's usec includes its commands'."""


class RedisMeter:
    """Snapshots of one server's counters, and per-job costs between two of them."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.idle_cpu_s_per_s = 0.0

    def measure_idle(self, seconds: float) -> float:
        """CPU seconds per second the server spends with nothing to do; subtracted from
        every window afterwards."""
        before = self.snapshot()
        time.sleep(seconds)
        after = self.snapshot()
        self.idle_cpu_s_per_s = max(0.0, (after.cpu_s - before.cpu_s) / (after.at - before.at))
        return self.idle_cpu_s_per_s

    def cpu_s(self) -> float:
        info: dict[str, Any] = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def snapshot(self) -> Snapshot:
        stats: dict[str, Any] = self.client.info("commandstats")
        commands = {
            key.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"]))
            for key, v in stats.items()
        }
        return Snapshot(time.monotonic(), self.cpu_s(), commands)

    def settle(self, window_s: float = 0.05, limit_s: float = 3.0) -> Snapshot:
        """A snapshot once Redis has gone quiet: work the workers do after the handlers
        returned (outcomes written in batches) belongs to the jobs. Quiet is a window
        using under 1 % of a core; gives up after `limit_s`."""
        deadline = time.monotonic() + limit_s
        previous = self.cpu_s()
        while time.monotonic() < deadline:
            time.sleep(window_s)
            now = self.cpu_s()
            if now - previous < 0.01 * window_s:
                break
            previous = now
        return self.snapshot()

    def cost(self, before: Snapshot, after: Snapshot, jobs: int) -> Cost:
        idle = self.idle_cpu_s_per_s * (after.at - before.at)
        cpu_us = 1e6 * max(0.0, after.cpu_s - before.cpu_s - idle) / jobs
        commands: dict[str, tuple[float, float]] = {}
        for name, (calls, usec) in after.commands.items():
            if name in IGNORED_COMMANDS:
                continue
            calls0, usec0 = before.commands.get(name, (0, 0))
            if calls > calls0:
                commands[name] = ((calls - calls0) / jobs, (usec - usec0) / jobs)
        total = sum(calls for calls, _ in commands.values())
        return Cost(cpu_us, total, dict(sorted(commands.items(), key=lambda kv: -kv[1][0])))
