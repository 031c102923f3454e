"""Retention: listing-index entries of expired records and finished entries past their age."""

from __future__ import annotations

from collections.abc import Sequence

from ..keys import Index
from .base import StoreBase
from .classify import translate_errors
from .results import as_str


@translate_errors
class Retention(StoreBase):
    """What the janitor trims so that memory stays bounded."""

    async def trim_index(self, queue: str, index: Index, job_ids: Sequence[str]) -> int:
        """Drop the entries of a listing index among `job_ids` whose record is gone (a type
        index left empty also leaves the set of types)."""
        if not job_ids:
            return 0
        k = self.keys(queue)
        job_type = index.value if index.kind == "type" else ""
        return int(
            await self.scripts.trim(
                keys=[index.key(k), k.types, *map(k.job, job_ids)], args=[job_type, *job_ids]
            )
        )

    async def sweep_index(
        self, queue: str, index: Index, cutoff_ms: int, offset: int, count: int
    ) -> tuple[int, int]:
        """Check `count` entries older than `cutoff_ms` from `offset` on; drop those whose
        record is gone. Returns (entries checked, entries removed)."""
        key = index.key(self.keys(queue))
        ids = [
            as_str(j)
            for j in await self.redis.zrangebyscore(key, "-inf", cutoff_ms, offset, count)
        ]
        return len(ids), await self.trim_index(queue, index, ids)

    async def trim_retention(self, queue: str, now_ms: int) -> None:
        """Trim finished-status indices and the dead-letter stream by age."""
        k = self.keys(queue)
        s = self.settings
        failed_cutoff = now_ms - s.failed_ttl_s * 1000
        pipe = self.redis.pipeline(transaction=False)
        pipe.zremrangebyscore(k.index("succeeded"), "-inf", now_ms - s.result_ttl_s * 1000)
        pipe.zremrangebyscore(k.index("failed"), "-inf", failed_cutoff)
        pipe.zremrangebyscore(k.index("cancelled"), "-inf", failed_cutoff)
        pipe.xtrim(k.dead, minid=max(0, failed_cutoff), approximate=False)
        await self._execute(pipe)
