"""Every Redis key name, built in one place and hash-tagged per queue.

All keys of one queue carry `{queue}` so that a queue lives on one Redis Cluster slot
and every script touches one slot only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .errors import ValidationError
from .job import JobStatus, Priority

PRIORITIES: tuple[str, ...] = tuple(p.value for p in Priority)
STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)
GROUP = "workers"
ARCHIVE_GROUP = "archivers"

QUEUE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}")
"""A queue name: 1 to 200 letters, digits, `_`, `.`, `:` or `-`, not starting with a
punctuation mark other than `_`. No braces (the name is the key's hash tag), no `#`
(reserved for shards), no spaces or glob characters."""


def check_queue_name(name: object, field: str = "queue") -> str:
    """The name itself when it is a valid queue name; ValidationError otherwise."""
    if not isinstance(name, str) or not QUEUE_NAME.fullmatch(name):
        raise ValidationError(
            f"queue name {name!r} is not valid: use 1 to 200 letters, digits, '_', '.', "
            "':' or '-', starting with a letter, digit or '_'",
            field=field,
        )
    return name


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """Key names of one queue."""

    prefix: str
    queue: str

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{{self.queue}}}"

    def stream(self, priority: str) -> str:
        return f"{self.base}:stream:{priority}"

    @property
    def streams(self) -> list[str]:
        return [self.stream(p) for p in PRIORITIES]

    def job(self, job_id: str) -> str:
        return f"{self.base}:job:{job_id}"

    @property
    def scheduled(self) -> str:
        return f"{self.base}:scheduled"

    @property
    def dead(self) -> str:
        return f"{self.base}:dead"

    def idempotency(self, key: str) -> str:
        return f"{self.base}:idem:{key}"

    def index(self, status: str) -> str:
        return f"{self.base}:index:{status}"

    @property
    def events(self) -> str:
        return f"{self.base}:events"

    @property
    def workers(self) -> str:
        return f"{self.base}:workers"

    @property
    def worker_info(self) -> str:
        return f"{self.base}:workers:info"

    @property
    def paused(self) -> str:
        return f"{self.base}:paused"

    @property
    def stats(self) -> str:
        """Hash: outcome counters per minute (`<unix minute>:<kind>`), the last hour only."""
        return f"{self.base}:stats"

    def attempts(self, job_id: str) -> str:
        """List: the job's ended attempts that its record no longer tells (failures and
        fenced-off stale outcomes), oldest first, for the console's job page."""
        return f"{self.base}:attempts:{job_id}"

    @property
    def wake_channel(self) -> str:
        return f"{self.base}:wake"

    @property
    def index_all(self) -> str:
        """Every job id by creation time: listing without filters, stable as jobs move."""
        return f"{self.base}:index:all"

    def index_type(self, job_type: str) -> str:
        """Job ids of one type by creation time."""
        return f"{self.base}:index:type:{job_type}"

    @property
    def types(self) -> str:
        """Set of the job types that have a type index (for retention sweeps)."""
        return f"{self.base}:types"

    @property
    def cron(self) -> str:
        """Hash: cron name -> last tick (ms) fired or skipped."""
        return f"{self.base}:cron"

    def running(self, job_type: str) -> str:
        """Zset of running ids of a concurrency-limited type, score = lease expiry (ms)."""
        return f"{self.base}:running:{job_type}"

    def waiting(self, job_type: str) -> str:
        """Zset of queued ids of a limited type parked while the type is at its limit."""
        return f"{self.base}:waiting:{job_type}"

    @property
    def archive(self) -> str:
        """Stream of terminal jobs waiting to be written to the history archive (consumer
        group `archivers`); each entry is the job's record as it finished."""
        return f"{self.base}:archive"

    def all_static(self) -> list[str]:
        """Every fixed (non per-job) key of the queue, for slot checks and inspection."""
        return [
            *self.streams,
            self.scheduled,
            self.dead,
            *(self.index(s) for s in STATUSES),
            self.events,
            self.workers,
            self.worker_info,
            self.paused,
            self.stats,
            self.index_all,
            self.types,
            self.cron,
            self.archive,
        ]


@dataclass(frozen=True, slots=True)
class Index:
    """A listing index of a queue: every job (`all`), one status, or one type; each a zset
    of job ids scored by time."""

    kind: Literal["all", "status", "type"]
    value: str = ""

    def key(self, keys: QueueKeys) -> str:
        if self.kind == "status":
            return keys.index(self.value)
        if self.kind == "type":
            return keys.index_type(self.value)
        return keys.index_all
