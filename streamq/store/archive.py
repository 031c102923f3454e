"""The Redis side of the history archive: the per-queue archive streams
(`streamq:{q}:archive`, consumer group `archivers`).

The terminal scripts (finish, cancel, reclaim) append each job's record there as it
finishes; archivers read entries with a consumer group, write them to PostgreSQL, then
acknowledge and delete them in one MULTI, so the stream holds exactly the jobs not yet
archived and its first entry is the oldest of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from ..keys import ARCHIVE_GROUP
from .base import StoreBase


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One terminal job waiting to be archived: the record's fields as it finished."""

    entry_id: str
    queue: str
    fields: dict[bytes, bytes]


@dataclass(frozen=True, slots=True)
class ClaimResult:
    entries: list[ArchiveEntry]
    gone: list[str]
    """Ids that were pending but are no longer in the stream (trimmed past the cap)."""


@dataclass(frozen=True, slots=True)
class Backlog:
    """What a queue's archive stream holds: the jobs not yet archived."""

    jobs: int
    oldest_ms: int | None
    now_ms: int

    @property
    def lag_s(self) -> float:
        return 0.0 if self.oldest_ms is None else max(0, self.now_ms - self.oldest_ms) / 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(queue: str, raw: Any) -> list[ArchiveEntry]:
    return [ArchiveEntry(_text(entry_id), queue, fields) for entry_id, fields in raw if fields]


class Archive(StoreBase):
    """Reads and acknowledgements of the archive streams, one round trip each."""

    def _archive_key(self, queue: str) -> str:
        return self.keys(queue).archive

    async def archive_ensure_group(self, queue: str) -> None:
        """Create the group at id 0, so entries added before any archiver ran are read."""
        try:
            await self.redis.xgroup_create(
                self._archive_key(queue), ARCHIVE_GROUP, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def archive_read(
        self, queue: str, consumer: str, count: int, block_ms: int | None, own: bool = False
    ) -> list[ArchiveEntry]:
        """New entries (waiting up to `block_ms`), or with `own` the entries this consumer
        read before and has not acknowledged (after a restart of the actor)."""
        reply: Any = await self.redis.xreadgroup(
            ARCHIVE_GROUP, consumer, {self._archive_key(queue): "0" if own else ">"}, count=count,
            block=None if own else block_ms,
        )
        return [e for _, raw in reply or [] for e in _entries(queue, raw)]

    async def archive_claim(
        self, queue: str, consumer: str, min_idle_ms: int, count: int
    ) -> ClaimResult:
        """Take entries another archiver read and left unacknowledged for `min_idle_ms`
        (it died, or PostgreSQL was down for it). The raw reply is read for its third
        element: entries trimmed while pending."""
        reply: Any = await self.redis.execute_command(
            "XAUTOCLAIM", self._archive_key(queue), ARCHIVE_GROUP, consumer, min_idle_ms, "0-0",
            "COUNT", count,
        )
        gone = [_text(i) for i in (reply[2] if len(reply) > 2 else [])]
        gone += [_text(entry_id) for entry_id, fields in reply[1] if not fields]
        return ClaimResult(_entries(queue, reply[1]), gone)

    async def archive_done(self, queue: str, entry_ids: list[str]) -> None:
        """Acknowledge and delete archived entries in one MULTI: never one without the
        other, so the stream holds exactly what is not archived yet."""
        if not entry_ids:
            return
        key = self._archive_key(queue)
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(key, ARCHIVE_GROUP, *entry_ids)
        pipe.xdel(key, *entry_ids)
        await self._execute(pipe)

    async def archive_backlog(self, queue: str) -> Backlog:
        """Entries waiting and the time of the oldest (its id is its time), by Redis time."""
        key = self._archive_key(queue)
        pipe = self.redis.pipeline(transaction=False)
        pipe.xlen(key)
        pipe.xrange(key, "-", "+", 1)
        pipe.time()
        length, first, (seconds, micros) = await self._execute(pipe)
        oldest = int(_text(first[0][0]).split("-")[0]) if first else None
        return Backlog(int(length), oldest, int(seconds) * 1000 + int(micros) // 1000)

    async def archive_prune_consumers(self, queue: str, min_idle_ms: int) -> int:
        """Delete consumers of dead archivers: idle that long and holding nothing (a
        consumer with pending entries is never deleted; they would be lost)."""
        key = self._archive_key(queue)
        try:
            consumers: Any = await self.redis.xinfo_consumers(key, ARCHIVE_GROUP)
        except ResponseError:
            return 0
        stale = [
            _text(c["name"]) for c in consumers
            if int(c["pending"]) == 0 and int(c["idle"]) >= min_idle_ms
        ]
        for name in stale:
            await self.redis.xgroup_delconsumer(key, ARCHIVE_GROUP, name)
        return len(stale)
