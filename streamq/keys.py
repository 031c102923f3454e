"""Every Redis key name, built in one place and hash-tagged per queue.

All keys of one queue carry `{queue}` so that a queue lives on one Redis Cluster slot
and every script touches one slot only.
"""

from __future__ import annotations

from dataclasses import dataclass

PRIORITIES: tuple[str, ...] = ("high", "normal", "low")
STATUSES: tuple[str, ...] = (
    "scheduled",
    "queued",
    "processing",
    "retrying",
    "succeeded",
    "failed",
    "cancelled",
)
GROUP = "workers"


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
        return f"{self.base}:stats"

    @property
    def wake_channel(self) -> str:
        return f"{self.base}:wake"

    # -- job control (issue 3): listing indices, cron, per-type concurrency limits ---------

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
        ]


def queue_of_key(prefix: str, key: str) -> str | None:
    """The queue name inside a streamq key, or None when the key is not one of ours."""
    head = f"{prefix}:{{"
    if not key.startswith(head):
        return None
    end = key.find("}", len(head))
    return key[len(head) : end] if end > 0 else None
