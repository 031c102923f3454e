"""Recovery: entries of lost workers taken back, a stopping node's entries handed back, and
due scheduled jobs promoted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..job import Delivery
from ..keys import GROUP, QueueKeys
from .base import StoreBase
from .classify import translate_errors
from .results import PromoteResult, ReclaimResult, as_str


@translate_errors
class Recovery(StoreBase):
    """Moves that make sure every accepted job runs again after a failure."""

    async def reclaim(
        self, queue: str, priority: str, consumer: str, min_idle_ms: int, count: int = 100
    ) -> tuple[ReclaimResult, bytes]:
        """One XAUTOCLAIM page of abandoned entries, given back or dead-lettered.

        The raw reply is read so that its third element (entries deleted while pending)
        is not lost; those jobs are recovered from their records. Returns the next cursor.
        """
        k = self.keys(queue)
        stream = k.stream(priority)
        reply: Any = await self.redis.execute_command(
            "XAUTOCLAIM", stream, GROUP, consumer, min_idle_ms, "0-0", "COUNT", count
        )
        cursor: bytes = reply[0]
        claimed = [(entry_id, fields) for entry_id, fields in reply[1] if fields]
        deleted: list[bytes] = list(reply[2]) if len(reply) > 2 else []
        deleted += [entry_id for entry_id, fields in reply[1] if not fields]
        result = ReclaimResult()
        if claimed:
            result += await self._give_back(
                k, stream, consumer,
                [(fields[b"id"].decode(), entry_id) for entry_id, fields in claimed],
                check_owner=True,
                count_lost=True,
            )
        if deleted:
            result += await self._recover_deleted(k, stream, consumer, deleted)
        return result, cursor

    async def _recover_deleted(
        self, k: QueueKeys, stream: str, consumer: str, deleted: list[bytes]
    ) -> ReclaimResult:
        """Find the in-flight jobs whose entries were deleted, through the processing index."""
        job_ids = [as_str(j) for j in await self.redis.zrange(k.index("processing"), 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hget(k.job(job_id), "entry")
        wanted = set(deleted)
        pairs = [
            (job_id, entry)
            for job_id, entry in zip(job_ids, await self._execute(pipe), strict=True)
            if entry in wanted
        ]
        found = await self._give_back(
            k, stream, consumer, pairs, check_owner=False, count_lost=True
        )
        return found + ReclaimResult(deleted_seen=len(deleted))

    async def _give_back(
        self,
        k: QueueKeys,
        stream: str,
        consumer: str,
        pairs: Sequence[tuple[str, bytes]],
        check_owner: bool,
        count_lost: bool,
    ) -> ReclaimResult:
        if not pairs:
            return ReclaimResult()
        s = self.settings
        reply = await self.scripts.reclaim(
            keys=[
                stream,
                k.dead,
                k.index("processing"),
                k.index("queued"),
                k.index("failed"),
                k.events,
                k.archive,
                *(k.job(job_id) for job_id, _ in pairs),
            ],
            args=[
                self.now_arg(), GROUP, consumer, s.max_deliveries, s.events_max_entries,
                s.dead_max_entries, s.failed_ttl_s * 1000, "1" if check_owner else "0",
                "1" if count_lost else "0", self.archive_maxlen,
                *(x for pair in pairs for x in pair),
            ],
        )
        dead = [as_str(x) for x in reply[3:]]
        return ReclaimResult(int(reply[0]), int(reply[1]), int(reply[2]),
                             dead_jobs=tuple(zip(dead[::2], dead[1::2], strict=True)))

    async def hand_back(self, consumer: str, held: Sequence[Delivery]) -> ReclaimResult:
        """A stopping node gives its unfinished entries back as fresh ones, for others to
        take at once; a node's own shutdown does not count as a lost delivery."""
        result = ReclaimResult()
        groups: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
        for d in held:
            groups[(d.queue, d.priority)].append(d)
        for (queue, priority), batch in groups.items():
            k = self.keys(queue)
            result += await self._give_back(
                k, k.stream(priority), consumer,
                [(d.job_id, d.entry_id) for d in batch],
                check_owner=True,
                count_lost=False,
            )
        return result

    async def promote(self, queue: str, batch: int = 500) -> PromoteResult:
        """Move due scheduled jobs into their streams; tells when the next one is due."""
        k = self.keys(queue)
        head = [as_str(j) for j in await self.redis.zrange(k.scheduled, 0, batch - 1)]
        reply = await self.scripts.promote(
            keys=[
                *k.streams,
                k.scheduled,
                k.index("scheduled"),
                k.index("retrying"),
                k.index("queued"),
                k.events,
                *map(k.job, head),
            ],
            args=[self.now_arg(), self.settings.events_max_entries, *head],
        )
        next_due = int(reply[1])
        return PromoteResult(int(reply[0]), None if next_due < 0 else next_due, int(reply[2]))
