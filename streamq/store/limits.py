"""Limits: per-type concurrency slots across nodes (admit, release, lease renewal)."""

from __future__ import annotations

from collections.abc import Sequence

from ..job import Delivery
from ..keys import GROUP, PRIORITIES
from .base import StoreBase
from .classify import translate_errors
from .codes import AdmitCode
from .results import ReleaseResult, as_str


@translate_errors
class Limits(StoreBase):
    """Slots of concurrency-limited types."""

    async def admit(
        self, queue: str, priority: str, job_type: str, limit: int, batch: Sequence[Delivery]
    ) -> list[bool]:
        """Take a concurrency slot of a limited type for each delivery, or park it."""
        k = self.keys(queue)
        rank = PRIORITIES.index(priority) * 2**44
        reply = await self.scripts.admit(
            keys=[
                k.stream(priority), k.running(job_type), k.waiting(job_type),
                *(k.job(d.job_id) for d in batch),
            ],
            args=[
                self.now_arg(), GROUP, limit, self.settings.visibility_timeout_ms, rank,
                *(x for d in batch for x in (d.job_id, d.entry_id)),
            ],
        )
        return [AdmitCode(int(flag)) is AdmitCode.ADMITTED for flag in reply]

    async def release(
        self, queue: str, job_type: str, limit: int, job_ids: Sequence[str] = ()
    ) -> ReleaseResult:
        """Free the slots of finished jobs and give parked ones back while slots are free."""
        k = self.keys(queue)
        head = [as_str(j) for j in await self.redis.zrange(k.waiting(job_type), 0, limit + 20)]
        reply = await self.scripts.release(
            keys=[k.running(job_type), k.waiting(job_type), *k.streams, *map(k.job, head)],
            args=[
                self.now_arg(), limit, self.settings.visibility_timeout_ms, *head, *job_ids,
            ],
        )
        return ReleaseResult(int(reply[0]), int(reply[1]), int(reply[2]))

    async def renew_slots(self, queue: str, job_type: str, job_ids: Sequence[str]) -> None:
        """Extend the leases of running jobs of a limited type (only those still held)."""
        if not job_ids:
            return
        now_ms = await self.redis_time_ms()
        expiry = now_ms + self.settings.visibility_timeout_ms
        await self.redis.zadd(
            self.keys(queue).running(job_type), dict.fromkeys(job_ids, expiry), xx=True, gt=True
        )
