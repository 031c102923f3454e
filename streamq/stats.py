"""Queue statistics: what `GET /queues`, `streamq inspect` and the queue gauges report.

Every number comes from plain Redis commands on the queue's keys (`XINFO STREAM`,
`XINFO GROUPS`, `ZCARD`, `XLEN`), so `redis-cli` shows the same numbers; `xinfo_commands`
prints them.
"""

from __future__ import annotations

import shlex
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .keys import GROUP, QueueKeys
from .shards import split
from .urls import redis_cli


class PriorityStats(BaseModel):
    """One priority stream of a queue (`XINFO STREAM` and `XINFO GROUPS` on it)."""

    model_config = ConfigDict(frozen=True)

    priority: str
    stream: str = Field(description="Redis key of the stream.")
    length: int = Field(description="Entries in the stream: waiting plus in flight (XLEN).")
    lag: int = Field(description="Entries not yet delivered to any worker (waiting).")
    pending: int = Field(description="Entries delivered and not yet acknowledged (in flight).")
    consumers: int = Field(description="Consumers of the group `workers` on this stream.")
    oldest_age_s: float = Field(description="Age of the oldest entry still in the stream.")
    paused: bool = Field(description="Fetching from this priority is paused.")


class QueueStats(BaseModel):
    """One queue: its priority streams plus scheduled, dead and live worker counts."""

    model_config = ConfigDict(frozen=True)

    queue: str
    priorities: list[PriorityStats]
    scheduled: int = Field(description="Delayed jobs and retries waiting (ZCARD scheduled).")
    dead: int = Field(description="Dead-letter entries (XLEN dead).")
    workers: int = Field(description="Worker nodes with a recent heartbeat.")
    paused: bool = Field(description="Every priority of the queue is paused.")
    shards: int = Field(1, description="Shards of the queue; every number sums them all.")

    @property
    def length(self) -> int:
        return sum(p.length for p in self.priorities)

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.priorities)

    @property
    def pending(self) -> int:
        return sum(p.pending for p in self.priorities)


def priority_stats(
    priority: str, stream: str, info: Any, groups: Any, now_ms: int, paused: bool
) -> PriorityStats:
    """Build one priority's numbers from `XINFO STREAM` and `XINFO GROUPS` replies (an
    exception in place of a reply: the stream does not exist yet)."""
    info = info if isinstance(info, dict) else {}
    group: dict[str, Any] = {}
    for candidate in groups if isinstance(groups, list) else []:
        if _text(candidate.get("name")) == GROUP:
            group = candidate
    length = int(info.get("length") or 0)
    pending = int(group.get("pending") or 0)
    lag = group.get("lag")
    # Redis reports lag as nil once entries were deleted (streamq deletes on ack); every
    # entry still in the stream is then either pending or waiting.
    waiting = int(lag) if lag is not None else max(0, length - pending)
    first = info.get("first-entry")
    oldest_ms = int(_text(first[0]).partition("-")[0]) if first else now_ms
    return PriorityStats(
        priority=priority,
        stream=stream,
        length=length,
        lag=waiting,
        pending=pending,
        consumers=int(group.get("consumers") or 0),
        oldest_age_s=max(0.0, (now_ms - oldest_ms) / 1000),
        paused=paused,
    )


def merge_shards(parts: list[QueueStats]) -> QueueStats:
    """One queue's numbers from those of its shards (shard 0 first): counts add up, ages
    and consumer counts take the largest, paused means paused on every shard. A stream
    key shown is shard 0's."""
    first = parts[0]
    if len(parts) == 1:
        return first
    priorities = [
        PriorityStats(
            priority=p.priority, stream=p.stream,
            length=sum(s.length for s in same), lag=sum(s.lag for s in same),
            pending=sum(s.pending for s in same),
            consumers=max(s.consumers for s in same),
            oldest_age_s=max(s.oldest_age_s for s in same),
            paused=all(s.paused for s in same),
        )
        for p, same in zip(first.priorities,
                           zip(*(q.priorities for q in parts), strict=True), strict=True)
    ]
    return QueueStats(
        queue=split(first.queue)[0], priorities=priorities,
        scheduled=sum(q.scheduled for q in parts), dead=sum(q.dead for q in parts),
        workers=max(q.workers for q in parts), paused=all(q.paused for q in parts),
        shards=len(parts),
    )


def xinfo_commands(keys: QueueKeys, redis_url: str | None = None) -> list[str]:
    """The `redis-cli` commands that show a queue's numbers by hand."""
    cli = redis_cli(redis_url) if redis_url else "redis-cli"
    lines = []
    for stream in keys.streams:
        quoted = shlex.quote(stream)
        lines += [
            f"{cli} XINFO STREAM {quoted}",
            f"{cli} XINFO GROUPS {quoted}",
            f"{cli} XINFO CONSUMERS {quoted} {GROUP}",
        ]
    lines += [
        f"{cli} ZCARD {shlex.quote(keys.scheduled)}",
        f"{cli} XLEN {shlex.quote(keys.dead)}",
    ]
    return lines


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
