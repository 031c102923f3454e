"""Redis reads and writes that only the operator console needs; the one module sending
them (the store sends the rest).

Two small transitions are MULTI blocks under WATCH, each one atomic: deleting a finished
job (its record, its index entries and its kept attempts, with a `deleted` event), and
making a delayed job or a retry due now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import WatchError

from ..job import Event, Job
from . import Store
from .classify import translate_errors

EVENTS_SCAN_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A worker node as its last heartbeat left it in a queue's registry."""

    name: str
    heartbeat_ms: int
    info: dict[str, Any]


@translate_errors
class ConsoleStore:
    """The console's own commands, through the store's client and key names."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def nodes(self, queue: str) -> list[NodeInfo]:
        """Every registered node of a queue (`ZRANGE workers` and `HGETALL workers:info`)."""
        k = self.store.keys(queue)
        pipe = self.store.redis.pipeline(transaction=False)
        pipe.zrange(k.workers, 0, -1, withscores=True)
        pipe.hgetall(k.worker_info)
        beats, infos = await pipe.execute()
        out = []
        for name, score in beats:
            blob = infos.get(name)
            out.append(NodeInfo(name.decode(), int(score), orjson.loads(blob) if blob else {}))
        return out

    async def job_events(self, queue: str, job_id: str, limit: int = 200) -> list[Event]:
        """The job's retained state changes, oldest first. The events stream is capped
        (`events_max_entries`), so this reads at most that many entries, newest first, in
        chunks, and stops at the job's creation event."""
        key = self.store.keys(queue).events
        wanted = job_id.encode()
        found: list[Event] = []
        end = "+"
        scanned = 0
        cap = max(self.store.settings.events_max_entries, EVENTS_SCAN_CHUNK)
        while scanned < cap + EVENTS_SCAN_CHUNK and len(found) < limit:
            rows: Any = await self.store.redis.xrevrange(key, end, "-", EVENTS_SCAN_CHUNK)
            for entry_id, fields in rows:
                if wanted in fields.get(b"job", b"").split(b" "):
                    found += [e for e in reversed(Event.from_entry(queue, entry_id, fields))
                              if e.job_id == job_id]
            if len(rows) < EVENTS_SCAN_CHUNK or (found and found[-1].from_status is None):
                break
            scanned += len(rows)
            end = "(" + rows[-1][0].decode()
        return list(reversed(found))

    async def delete_finished(self, job: Job) -> bool:
        """Forget a succeeded, failed or cancelled job; False when its record changed
        status meanwhile (or is gone): nothing was deleted."""
        k = self.store.keys(job.shard_queue)
        s = self.store.settings
        async with self.store.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(k.job(job.id))
                status = await pipe.hget(k.job(job.id), "status")
                if status is None or _text(status) != job.status.value:
                    return False
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.delete(k.job(job.id), k.attempts(job.id))
                pipe.zrem(k.index(job.status.value), job.id)
                pipe.zrem(k.index_all, job.id)
                pipe.zrem(k.index_type(job.type), job.id)
                if s.events_max_entries > 0:
                    pipe.xadd(k.events, {
                        "job": job.id, "from": job.status.value, "to": "deleted",
                        "attempt": job.attempt, "time": await self._now_ms(), "worker": "",
                    }, maxlen=s.events_max_entries, approximate=True)
                await pipe.execute()
            except WatchError:
                return False
        return True

    async def run_now(self, job: Job) -> bool:
        """Make a delayed job or a waiting retry due now and wake the schedulers; False when
        it is no longer scheduled or retrying."""
        k = self.store.keys(job.shard_queue)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(k.job(job.id))
                status = await pipe.hget(k.job(job.id), "status")
                if status not in (b"scheduled", b"retrying"):
                    return False
                now = await self._now_ms()
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.zadd(k.scheduled, {job.id: now}, xx=True)
                pipe.hset(k.job(job.id), "due", now)
                pipe.publish(k.wake_channel, now)
                await pipe.execute()
            except WatchError:
                return False
        return True

    async def _now_ms(self) -> int:
        return await self.store.redis_time_ms()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
