"""Reads, decoded into models: job records, listing indices, dead letters, events and
queue statistics. Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from redis.exceptions import ResponseError

from ..job import Event, Job
from ..keys import PRIORITIES, Index, QueueKeys
from ..stats import QueueStats, priority_stats
from .base import StoreBase
from .classify import outage, translate_errors
from .results import DeadEntry, as_str, dead_entry

LARGE_FIELDS = ("payload", "result")
"""Fields a listing reads only when they are small."""
SUMMARY_FIELDS = (
    "type", "priority", "status", "attempt", "max_retries", "timeout",
    "deliveries", "lost", "run", "created", "due", "started", "finished", "error",
    "error_type", "traceback", "reason", "worker", "progress", "progress_message",
    "payload.n",
)
"""Every other field a Job is built from."""


def _stored_as(field: str, pieces: bytes | None) -> list[str]:
    """The record fields a large field is read from (the payload may be in pieces)."""
    if field == "payload" and pieces is not None:
        return [f"payload.{i}" for i in range(int(pieces))]
    return [field]


@translate_errors
class Reads(StoreBase):
    """What inspection (library, API, CLI, console) reads."""

    async def get_job(self, queues: Iterable[str], job_id: str) -> Job | None:
        """The job's record, looked up in each known queue in one round trip."""
        queue_list = list(queues)
        pipe = self.redis.pipeline(transaction=False)
        for queue in queue_list:
            pipe.hgetall(self.keys(queue).job(job_id))
        for queue, raw in zip(queue_list, await self._execute(pipe), strict=True):
            if raw:
                return Job.from_record(job_id, queue, raw)
        return None

    async def jobs(self, queue: str, job_ids: Sequence[str]) -> list[Job | None]:
        """Each job of a queue, in one round trip (None where the record is gone)."""
        k = self.keys(queue)
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(k.job(job_id))
        return [
            Job.from_record(job_id, queue, raw) if raw else None
            for job_id, raw in zip(job_ids, await self._execute(pipe), strict=True)
        ]

    async def job_summaries(
        self, queue: str, job_ids: Sequence[str], preview_limit: int
    ) -> list[Job | None]:
        """Each job of a queue for a listing page: its payload and result only when each is
        at most `preview_limit` bytes (a larger one stays in Redis and is marked omitted),
        so a page costs Redis and the caller a bounded amount whatever the jobs weigh."""
        k = self.keys(queue)
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(k.job(job_id), SUMMARY_FIELDS)
            for field in LARGE_FIELDS:
                pipe.hstrlen(k.job(job_id), field)
        replies = await self._execute(pipe)
        per = 1 + len(LARGE_FIELDS)
        rows = [replies[i : i + per] for i in range(0, len(replies), per)]
        pieces = SUMMARY_FIELDS.index("payload.n")
        for row in rows:  # a payload kept in pieces: its size is at most 64 bytes a piece
            if row[0][pieces] is not None:
                row[1] = 64 * int(row[0][pieces])
        wanted = {
            job_id: [
                name
                for f, n in zip(LARGE_FIELDS, row[1:], strict=True) if 0 < int(n) <= preview_limit
                for name in _stored_as(f, row[0][pieces])
            ]
            for job_id, row in zip(job_ids, rows, strict=True)
        }
        fetched = await self._fields({j: fs for j, fs in wanted.items() if fs}, k)
        jobs: list[Job | None] = []
        for job_id, row in zip(job_ids, rows, strict=True):
            record = {f.encode(): v for f, v in zip(SUMMARY_FIELDS, row[0], strict=True)
                      if v is not None}
            if b"status" not in record:
                jobs.append(None)
                continue
            record.update(fetched.get(job_id, {}))
            omitted = {f"{f}_omitted": True
                       for f, n in zip(LARGE_FIELDS, row[1:], strict=True)
                       if int(n) > preview_limit}
            job = Job.from_record(job_id, queue, record)
            jobs.append(job.model_copy(update=omitted) if omitted else job)
        return jobs

    async def _fields(
        self, wanted: dict[str, list[str]], k: QueueKeys
    ) -> dict[str, dict[bytes, bytes]]:
        """HMGET of the given fields of each job, in one round trip."""
        if not wanted:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for job_id, fields in wanted.items():
            pipe.hmget(k.job(job_id), fields)
        return {
            job_id: {f.encode(): v for f, v in zip(fields, values, strict=True) if v}
            for (job_id, fields), values in zip(wanted.items(), await self._execute(pipe),
                                                strict=True)
        }

    async def job_statuses(self, jobs: Sequence[tuple[str, str]]) -> list[str | None]:
        """Status of each (job id, queue), None where the record is gone."""
        pipe = self.redis.pipeline(transaction=False)
        for job_id, queue in jobs:
            pipe.hget(self.keys(queue).job(job_id), "status")
        return [None if st is None else as_str(st) for st in await self._execute(pipe)]

    async def index_page(
        self, queue: str, index: Index, after: tuple[int, str] | None, count: int
    ) -> list[tuple[int, str]]:
        """Up to `count` (score, id) of a listing index, newest first, after a cursor."""
        args: list[Any] = ["", "", count] if after is None else [after[0], after[1], count]
        flat = await self.scripts.list_page(keys=[index.key(self.keys(queue))], args=args)
        return [(int(float(flat[i + 1])), as_str(flat[i])) for i in range(0, len(flat), 2)]

    async def index_sizes(self, indices: Sequence[tuple[str, Index]]) -> list[int]:
        """The size of each (queue, listing index), in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for queue, index in indices:
            pipe.zcard(index.key(self.keys(queue)))
        return [int(n) for n in await self._execute(pipe)]

    async def dead_page(
        self,
        queue: str,
        before: str | None,
        since_ms: int | None,
        until_ms: int | None,
        count: int,
    ) -> list[DeadEntry]:
        """Up to `count` dead-letter entries, newest first, older than entry `before`."""
        if before is not None:
            end = f"({before}"
        elif until_ms is not None:
            end = f"{until_ms}-18446744073709551615"
        else:
            end = "+"
        start = "-" if since_ms is None else f"{since_ms}-0"
        reply: Any = await self.redis.xrevrange(self.keys(queue).dead, end, start, count)
        return [dead_entry(entry_id, fields) for entry_id, fields in reply]

    async def dead_last_id(self, queue: str) -> str | None:
        reply: Any = await self.redis.xrevrange(self.keys(queue).dead, "+", "-", 1)
        return as_str(reply[0][0]) if reply else None

    async def dead_range(
        self, queue: str, after: str, until: str, count: int
    ) -> list[DeadEntry]:
        """Up to `count` dead-letter entries, oldest first, after `after` up to `until`."""
        start = "-" if after == "-" else f"({after}"
        reply: Any = await self.redis.xrange(self.keys(queue).dead, start, until, count)
        return [dead_entry(entry_id, fields) for entry_id, fields in reply]

    async def failure_marks(
        self, queue: str, job_ids: Sequence[str]
    ) -> list[tuple[str | None, str | None]]:
        """(status, finished) of each job: a dead-letter entry is live while its job is
        `failed` with `finished` equal to the entry's `time`."""
        k = self.keys(queue)
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(k.job(job_id), ["status", "finished"])
        return [
            (None if st is None else as_str(st), None if fin is None else as_str(fin))
            for st, fin in await self._execute(pipe)
        ]

    async def find_dead_entry(self, queue: str, job_id: str, finished_ms: int) -> str | None:
        """The dead-letter entry of a job's current failure: looked for near its failure
        time, then among the newest entries; bounded either way."""
        k = self.keys(queue)
        want_job, want_time = job_id.encode(), str(finished_ms).encode()
        pipe = self.redis.pipeline(transaction=False)
        pipe.xrange(k.dead, f"{max(0, finished_ms - 1000)}-0", "+", 200)
        pipe.xrevrange(k.dead, "+", "-", 1000)
        near, recent = await self._execute(pipe)
        for entry_id, fields in [*near, *recent]:
            if fields.get(b"job") == want_job and fields.get(b"time") == want_time:
                return as_str(entry_id)
        return None

    async def paused_priorities(self, queue: str) -> list[str]:
        fields = {as_str(f) for f in await self.redis.hkeys(self.keys(queue).paused)}
        return [p for p in PRIORITIES if p in fields or "*" in fields]

    async def events_last_ids(self, queues: Sequence[str]) -> dict[str, str]:
        """The id of each queue's newest event ('0-0' when none): where a live watch starts."""
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            pipe.xrevrange(self.keys(queue).events, "+", "-", 1)
        return {
            queue: as_str(reply[0][0]) if reply else "0-0"
            for queue, reply in zip(queues, await self._execute(pipe), strict=True)
        }

    async def read_events(
        self, after: dict[str, str], block_ms: int, count: int = 500
    ) -> list[Event]:
        """Events after each queue's id, waiting up to `block_ms` for the first one."""
        by_stream = {self.keys(q).events: q for q in after}
        reply = await self._xread(
            {stream: after[q] for stream, q in by_stream.items()}, count, block_ms
        )
        return [
            event
            for stream, entries in reply
            for entry_id, fields in entries
            for event in Event.from_entry(by_stream[as_str(stream)], entry_id, fields)
        ]

    async def queue_stats(self, queues: Sequence[str]) -> list[QueueStats]:
        """Every queue's numbers in one pipelined round trip: XINFO STREAM and XINFO GROUPS
        per priority stream, ZCARD scheduled, XLEN dead, live nodes and paused priorities."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.time()
        for queue in queues:
            k = self.keys(queue)
            for stream in k.streams:
                pipe.xinfo_stream(stream)
                pipe.xinfo_groups(stream)
            pipe.zcard(k.scheduled)
            pipe.xlen(k.dead)
            pipe.zrangebyscore(k.workers, "-inf", "+inf", withscores=True)
            pipe.hkeys(k.paused)
        replies = await self._execute(pipe, raise_on_error=False)
        for reply in replies:  # a missing stream answers "no such key"; anything else is real
            if isinstance(reply, Exception) and (
                not isinstance(reply, ResponseError) or outage(reply) is not None
            ):
                raise reply
        seconds, micros = replies[0]
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        rest = iter(replies[1:])
        return [self._one_queue_stats(queue, rest, now_ms) for queue in queues]

    def _one_queue_stats(self, queue: str, replies: Iterator[Any], now_ms: int) -> QueueStats:
        k = self.keys(queue)
        per_stream = [(next(replies), next(replies)) for _ in PRIORITIES]
        scheduled, dead, nodes, paused_fields = (next(replies) for _ in range(4))
        paused = {as_str(f) for f in paused_fields}
        priorities = [
            priority_stats(p, k.stream(p), info, groups, now_ms, "*" in paused or p in paused)
            for p, (info, groups) in zip(PRIORITIES, per_stream, strict=True)
        ]
        live = [n for n, beat in nodes if beat > now_ms - self.settings.node_ttl_ms]
        return QueueStats(
            queue=queue, priorities=priorities, scheduled=int(scheduled), dead=int(dead),
            workers=len(live), paused=all(p.paused for p in priorities),
        )

    async def queue_exists(self, queue: str) -> bool:
        """Whether Redis holds any of the queue's fixed keys (streams, schedule, dead
        letters, node registry, pause flags)."""
        k = self.keys(queue)
        keys = [*k.streams, k.scheduled, k.dead, k.workers, k.paused, k.index_all]
        return int(await self.redis.exists(*keys)) > 0

    async def scheduled_count(self, queue: str) -> int:
        return int(await self.redis.zcard(self.keys(queue).scheduled))

    async def scheduled_ids(self, queue: str) -> list[str]:
        return [as_str(j) for j in await self.redis.zrange(self.keys(queue).scheduled, 0, -1)]

    async def parked_count(self, queue: str, job_types: Iterable[str]) -> int:
        """Jobs parked by per-type concurrency limits, waiting for a slot."""
        k = self.keys(queue)
        pipe = self.redis.pipeline(transaction=False)
        for job_type in job_types:
            pipe.zcard(k.waiting(job_type))
        return sum(int(n) for n in await self._execute(pipe))

    async def job_types(self, queue: str) -> list[str]:
        return sorted(as_str(t) for t in await self.redis.smembers(self.keys(queue).types))
