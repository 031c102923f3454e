"""After a fault run: compare the producer's log, the handlers' ledger and Redis.

Every accepted job (and every `unknown` one that Redis turns out to hold) must be in exactly
one terminal state, consistently: its record's status, the status indices, the scheduled
zset and the dead-letter stream agree. Every extra execution must be explained by a fault
that hit the process that ran the earlier attempt (or by a fault of Redis itself while it
ran). Nothing may be left in a stream, a pending list, the scheduled zset or a non-terminal
index.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from streamq.keys import GROUP, PRIORITIES, STATUSES, QueueKeys
from streamq.shards import Layout

from .ledger import LedgerLine
from .observe import records
from .producer import ProducerLog

TERMINAL = ("succeeded", "failed", "cancelled")
OPEN = ("scheduled", "queued", "processing", "retrying")


@dataclass
class Fault:
    """One injected fault: when, what, and which worker pids it hit (none: all of them)."""

    kind: str
    began: float
    ended: float
    pids: frozenset[int] = frozenset()
    reach_s: float | None = None
    """How long before the fault an attempt may have begun and still be cut short by it
    (None: any time before)."""

    def hits(self, pid: int, at_ms: int, slack_s: float) -> bool:
        """Could this fault have cost an attempt that `pid` began at `at_ms`?"""
        at = at_ms / 1000
        if self.pids and pid not in self.pids:
            return False
        if self.reach_s is not None and at < self.began - self.reach_s:
            return False
        return at <= self.ended + slack_s


@dataclass
class FaultLog:
    faults: list[Fault] = field(default_factory=list)

    def add(self, kind: str, pids: set[int] | frozenset[int] = frozenset(),
            began: float | None = None, ended: float | None = None,
            reach_s: float | None = None) -> Fault:
        now = time.time()
        fault = Fault(kind, began or now, ended or now, frozenset(pids), reach_s)
        self.faults.append(fault)
        return fault

    def explain(self, pid: int, at_ms: int, slack_s: float) -> str | None:
        """The first fault after an attempt began (on its pid, or on Redis) that explains
        why it ran again."""
        for fault in self.faults:
            if fault.hits(pid, at_ms, slack_s):
                return fault.kind
        return None

    def counts(self) -> Counter[str]:
        return Counter(f.kind for f in self.faults)


@dataclass
class CheckReport:
    accepted: int = 0
    refused: int = 0
    unknown: int = 0
    unknown_written: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    """Accepted (or written unknown) jobs that are not in one terminal state."""
    inconsistent: list[str] = field(default_factory=list)
    """Terminal jobs whose indices, scheduled zset or dead-letter stream disagree."""
    executions: int = 0
    duplicates: int = 0
    explained: Counter[str] = field(default_factory=Counter)
    unexplained: list[str] = field(default_factory=list)
    leftovers: dict[str, int] = field(default_factory=dict)
    faults: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "refused": self.refused,
            "unknown": self.unknown,
            "unknown_written": self.unknown_written,
            "lost": len(self.lost),
            "inconsistent": len(self.inconsistent),
            "statuses": dict(self.statuses),
            "executions": self.executions,
            "duplicates": self.duplicates,
            "duplicates_explained": dict(self.explained),
            "duplicates_unexplained": len(self.unexplained),
            "leftovers": self.leftovers,
            "faults": dict(self.faults),
        }

    def assert_clean(self) -> None:
        """No job lost or inconsistent, no unexplained extra execution, nothing left over."""
        s = self.summary()
        assert not self.lost, f"{len(self.lost)} accepted jobs lost, e.g. {self.lost[:5]}: {s}"
        assert not self.inconsistent, f"inconsistent jobs {self.inconsistent[:5]}: {s}"
        assert not self.unexplained, (
            f"{len(self.unexplained)} extra executions no fault explains, "
            f"e.g. {self.unexplained[:5]}: {s}"
        )
        assert not self.leftovers, f"left in Redis after the run: {self.leftovers}: {s}"


async def queue_leftovers(
    redis: Redis, queue: str = "default", prefix: str = "streamq",
    excused: set[str] | frozenset[str] = frozenset(), shards: int = 1,
) -> dict[str, int]:
    """Entries, pending entries, scheduled ids and open-status ids still in Redis (ids of
    `excused` jobs not counted), summed over the queue's shards."""
    left: Counter[str] = Counter()
    for name in Layout(shards).names(queue):
        left.update(await _shard_leftovers(redis, QueueKeys(prefix, name), excused))
    return dict(left)


async def _shard_leftovers(
    redis: Redis, k: QueueKeys, excused: set[str] | frozenset[str]
) -> dict[str, int]:
    left: dict[str, int] = {}
    for priority in PRIORITIES:
        stream = k.stream(priority)
        if not await redis.exists(stream):
            continue
        if n := int(await redis.xlen(stream)):
            left[f"stream:{priority}"] = n
        for group in await redis.xinfo_groups(stream):
            if int(group["pending"]):
                left[f"pending:{priority}"] = int(group["pending"])
    if n := int(await redis.zcard(k.scheduled)):
        left["scheduled"] = n
    for status in OPEN:
        members = {m.decode() for m in await redis.zrange(k.index(status), 0, -1)}
        if n := len(members - excused):
            left[f"index:{status}"] = n
    return left


async def _index_members(redis: Redis, k: QueueKeys) -> dict[str, set[str]]:
    members: dict[str, set[str]] = {}
    for status in STATUSES:
        raw = await redis.zrange(k.index(status), 0, -1)
        members[status] = {m.decode() for m in raw}
    return members


async def _dead_jobs(redis: Redis, k: QueueKeys) -> Counter[str]:
    dead: Counter[str] = Counter()
    if await redis.exists(k.dead):
        for _, fields in await redis.xrange(k.dead):
            dead[fields[b"job"].decode()] += 1
    return dead


async def check_run(
    redis: Redis,
    produced: ProducerLog | list[str],
    ledger: list[LedgerLine],
    faults: FaultLog | None = None,
    *,
    queue: str = "default",
    slack_s: float = 0.0,
    check_indices: bool = True,
    excused: set[str] | frozenset[str] = frozenset(),
    shards: int = 1,
) -> CheckReport:
    """Compare producer, ledger and Redis; see the module docstring.

    `slack_s`: how long after a fault an attempt that began on the hit process may still
    have been cut short by it (a frozen process's outcome is fenced off after it thaws).
    `excused`: accepted jobs a fault destroyed on purpose (the test counts them itself).
    """
    faults = faults or FaultLog()
    every = [QueueKeys("streamq", name) for name in Layout(shards).names(queue)]
    report = CheckReport(faults=faults.counts())
    if isinstance(produced, list):
        accepted, unknown = list(produced), []
    else:
        accepted, unknown = produced.accepted, produced.unknown
        report.refused = len(produced.refused)
    accepted = [j for j in accepted if j not in excused]
    unknown = [j for j in unknown if j not in excused]
    report.accepted, report.unknown = len(accepted), len(unknown)
    found = await records(redis, accepted + unknown, queue)
    written_unknown = [j for j in unknown if found[j]]
    report.unknown_written = len(written_unknown)
    indices: dict[str, set[str]] = defaultdict(set)
    dead: Counter[str] = Counter()
    scheduled: set[str] = set()
    for k in every:  # a job is on one shard: the union over the shards is its place
        if check_indices:
            for status, members in (await _index_members(redis, k)).items():
                indices[status] |= members
            dead.update(await _dead_jobs(redis, k))
        scheduled |= {m.decode() for m in await redis.zrange(k.scheduled, 0, -1)}
    for job_id in accepted + written_unknown:
        rec = found[job_id]
        status = rec.get(b"status", b"").decode()
        report.statuses[status or "missing"] += 1
        if status not in TERMINAL:
            report.lost.append(job_id)
            continue
        if not check_indices:
            continue
        in_indices = [s for s in STATUSES if job_id in indices[s]]
        dead_ok = (dead[job_id] >= 1) if status == "failed" else True
        if in_indices != [status] or job_id in scheduled or not dead_ok:
            report.inconsistent.append(job_id)

    # An extra execution is a second start of the same attempt (a planned failure and its
    # retry are two attempts, not a duplicate).
    starts: dict[tuple[str, int], list[LedgerLine]] = defaultdict(list)
    for line in ledger:
        if line.event == "start":
            starts[(line.job_id, line.attempt)].append(line)
    report.executions = sum(len(v) for v in starts.values())
    for (job_id, _), runs in starts.items():
        runs.sort(key=lambda line: line.time_ms)
        for earlier, later in itertools.pairwise(runs):
            report.duplicates += 1
            reason = faults.explain(earlier.pid, earlier.time_ms, slack_s)
            if reason is None:
                report.unexplained.append(f"{job_id} pid {earlier.pid} -> {later.pid}")
            else:
                report.explained[reason] += 1
    report.leftovers = await queue_leftovers(redis, queue, excused=excused, shards=shards)
    return report


def pending_of(consumers: list[dict[Any, Any]], pid: int) -> int:
    """Entries pending under the node of process `pid` (its consumer name holds the pid)."""
    return sum(int(c["pending"]) for c in consumers if f":{pid}:" in _text(c["name"]))


async def pending_by_pid(
    redis: Redis, pid: int, queue: str = "default", shards: int = 1
) -> int:
    total = 0
    for stream in (QueueKeys("streamq", name).stream(priority)
                   for name in Layout(shards).names(queue) for priority in PRIORITIES):
        if await redis.exists(stream):
            try:
                total += pending_of(await redis.xinfo_consumers(stream, GROUP), pid)
            except Exception:  # the group may be gone (a fault of its own)
                continue
    return total


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
