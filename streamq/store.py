"""The only module that sends Redis commands: one coroutine per transition.

Script return codes become typed values or errors here; actors, the client, the API and
the CLI call the store and never Redis directly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline, PubSub
from redis.exceptions import NoScriptError, ResponseError

from .errors import IdempotencyConflict, QueueFull, StreamqError
from .job import Delivery, Job, Outcome
from .keys import GROUP, PRIORITIES, QueueKeys
from .scripts import Scripts
from .settings import Settings
from .stats import QueueStats, priority_stats

_STREAM_INDEX = {p: str(i + 1) for i, p in enumerate(PRIORITIES)}


@dataclass(frozen=True, slots=True)
class EnqueueSpec:
    """One validated job, ready to be written."""

    queue: str
    job_id: str
    type: str
    payload: bytes
    priority: str
    max_retries: int
    timeout_s: float
    delay_ms: int = 0
    run_at_ms: int = 0
    idempotency_key: str | None = None
    fingerprint: str = ""


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    job_id: str
    created: bool
    status: str


@dataclass(frozen=True, slots=True)
class FetchResult:
    deliveries: list[Delivery]
    active_priorities: list[str]


@dataclass(frozen=True, slots=True)
class ReclaimResult:
    requeued: int = 0
    dead: int = 0
    dropped: int = 0
    deleted_seen: int = 0

    def __add__(self, other: ReclaimResult) -> ReclaimResult:
        return ReclaimResult(
            self.requeued + other.requeued,
            self.dead + other.dead,
            self.dropped + other.dropped,
            self.deleted_seen + other.deleted_seen,
        )


@dataclass(frozen=True, slots=True)
class PromoteResult:
    promoted: int
    next_due_ms: int | None
    now_ms: int


def _pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def _as_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Store:
    """Transitions of jobs in Redis, each one script or one pipelined round trip."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.scripts = Scripts(redis)
        self._keys: dict[str, QueueKeys] = {}

    async def _execute(self, pipe: Pipeline, raise_on_error: bool = True) -> list[Any]:
        """Run a pipeline in one round trip; load scripts Redis forgot and re-send only
        the calls it refused with NOSCRIPT (it ran none of those). On cancellation too,
        the connection goes back to the pool."""
        commands = list(pipe.command_stack)
        try:
            replies = list(await pipe.execute(raise_on_error=False))
        finally:
            with anyio.CancelScope(shield=True):
                await pipe.reset()  # type: ignore[no-untyped-call]
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing:
            await self.scripts.load_all()
            retry = self.redis.pipeline(transaction=False)
            for i in missing:
                args, options = commands[i]
                retry.execute_command(*args, **options)
            for i, reply in zip(missing, await self._execute(retry, False), strict=True):
                replies[i] = reply
        if raise_on_error:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        return replies

    def keys(self, queue: str) -> QueueKeys:
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys(self.settings.prefix, queue)
        return keys

    # -- producing -------------------------------------------------------------------------

    async def enqueue(self, specs: Sequence[EnqueueSpec]) -> list[EnqueueResult]:
        """Write every job in one round trip; raises on the first refused one.

        Each job is its own script call, so a refusal (conflict, full queue) leaves the
        other jobs written; callers validate everything first so that this is rare.
        """
        results = await self.enqueue_each(specs)
        for result in results:
            if isinstance(result, StreamqError):
                raise result
        return [r for r in results if isinstance(r, EnqueueResult)]

    async def enqueue_each(
        self, specs: Sequence[EnqueueSpec]
    ) -> list[EnqueueResult | StreamqError]:
        """Write every job in one round trip; a refused job (idempotency conflict, full
        queue) gets its error in its place and changes nothing."""
        s = self.settings
        pipe = self.redis.pipeline(transaction=False)
        for spec in specs:
            k = self.keys(spec.queue)
            keys = [
                k.job(spec.job_id),
                k.stream(spec.priority),
                k.scheduled,
                k.index("queued"),
                k.index("scheduled"),
                k.events,
            ]
            if spec.idempotency_key is not None:
                keys.append(k.idempotency(spec.idempotency_key))
            keys += [k.index_all, k.index_type(spec.type), k.types]  # listing (issue 3)
            args: list[Any] = [
                0,
                spec.job_id,
                spec.type,
                spec.payload,
                spec.priority,
                spec.max_retries,
                repr(spec.timeout_s),
                spec.delay_ms,
                spec.run_at_ms,
                s.idempotency_ttl_s * 1000,
                spec.fingerprint,
                s.events_max_entries,
                s.max_backlog,
                k.wake_channel,
            ]
            await self.scripts.enqueue(keys=keys, args=args, client=pipe)
        replies = await self._execute(pipe)
        return [self._enqueue_result(spec, r) for spec, r in zip(specs, replies, strict=True)]

    def _enqueue_result(self, spec: EnqueueSpec, reply: Any) -> EnqueueResult | StreamqError:
        code = int(reply[0])
        if code == 1:
            return EnqueueResult(_as_str(reply[1]), True, _as_str(reply[2]))
        if code == 0:
            return EnqueueResult(_as_str(reply[1]), False, "existing")
        if code == -1:
            return IdempotencyConflict(
                f"idempotency key {spec.idempotency_key!r} already names job "
                f"{_as_str(reply[1])} with a different type or payload",
                job_id=_as_str(reply[1]),
            )
        return QueueFull(
            f"queue {spec.queue!r} holds {int(reply[1])} queued jobs, "
            f"at its limit of {self.settings.max_backlog}",
            retry_after_s=1,
        )

    # -- reading -----------------------------------------------------------------------------

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

    # -- consuming ---------------------------------------------------------------------------

    async def ensure_groups(self, queue: str) -> None:
        """Create the consumer group of every stream at id 0 (so nothing queued is skipped)."""
        for stream in self.keys(queue).streams:
            try:
                await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def fetch(
        self, queue: str, order: Sequence[str], consumer: str, count: int
    ) -> FetchResult:
        """Read up to `count` new entries, streams taken in `order`, without blocking."""
        k = self.keys(queue)
        reply = await self.scripts.fetch(
            keys=[*(k.stream(p) for p in order), k.paused],
            args=[GROUP, consumer, count, *order],
        )
        active = [_as_str(p) for p in reply[0]]
        deliveries = [
            self._delivery(queue, _as_str(priority), entry_id, _pairs(fields))
            for priority, entries in reply[1]
            for entry_id, fields in entries
        ]
        return FetchResult(deliveries, active)

    async def fetch_blocking(
        self, queue: str, priorities: Sequence[str], consumer: str, count: int, block_ms: int
    ) -> list[Delivery]:
        """Wait up to `block_ms` for entries on any of the given streams."""
        k = self.keys(queue)
        by_stream = {k.stream(p).encode(): p for p in priorities}
        reply: Any = await self.redis.xreadgroup(
            GROUP, consumer, {s: ">" for s in by_stream}, count=count, block=block_ms
        )
        return [
            self._delivery(queue, by_stream[stream], entry_id, fields)
            for stream, entries in reply or []
            for entry_id, fields in entries
            if fields
        ]

    def _delivery(
        self, queue: str, priority: str, entry_id: bytes, fields: dict[bytes, bytes]
    ) -> Delivery:
        return Delivery(
            queue=queue,
            priority=priority,
            entry_id=entry_id,
            job_id=fields[b"id"].decode(),
            type=fields[b"type"].decode(),
            payload=fields[b"payload"],
            timeout_s=float(fields[b"timeout"]),
            max_retries=int(fields[b"retries"]),
            attempt=0,
            enqueued_ms=int(fields[b"enq"]),
        )

    async def start(self, consumer: str, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Mark fetched entries as processing; returns the runnable ones with run and attempt."""
        if not deliveries:
            return []
        s = self.settings
        groups: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
        for d in deliveries:
            groups[(d.queue, d.priority)].append(d)
        pipe = self.redis.pipeline(transaction=False)
        for (queue, priority), batch in groups.items():
            k = self.keys(queue)
            await self.scripts.start(
                keys=[
                    k.stream(priority),
                    k.index("queued"),
                    k.index("processing"),
                    k.events,
                    *(k.job(d.job_id) for d in batch),
                ],
                args=[0, consumer, s.events_max_entries, GROUP, *(d.entry_id for d in batch)],
                client=pipe,
            )
        runnable: list[Delivery] = []
        for batch, reply in zip(groups.values(), await self._execute(pipe), strict=True):
            for i, d in enumerate(batch):
                run, attempt = int(reply[2 * i]), int(reply[2 * i + 1])
                if run > 0:
                    runnable.append(
                        Delivery(
                            d.queue, d.priority, d.entry_id, d.job_id, d.type, d.payload,
                            d.timeout_s, d.max_retries, attempt, d.enqueued_ms, run,
                        )
                    )
        return runnable

    async def finish(self, outcomes: Sequence[Outcome]) -> list[int]:
        """Persist outcomes, one script per queue, fenced on each attempt's run number."""
        if not outcomes:
            return []
        s = self.settings
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for o in outcomes:
            groups[o.delivery.queue].append(o)
        pipe = self.redis.pipeline(transaction=False)
        for queue, batch in groups.items():
            k = self.keys(queue)
            keys = [
                *k.streams,
                k.scheduled,
                k.dead,
                k.index("processing"),
                k.index("succeeded"),
                k.index("failed"),
                k.index("retrying"),
                k.index("cancelled"),
                k.events,
                *(k.job(o.delivery.job_id) for o in batch),
            ]
            args: list[Any] = [
                0,
                s.result_ttl_s * 1000,
                s.failed_ttl_s * 1000,
                s.events_max_entries,
                s.dead_max_entries,
                GROUP,
                k.wake_channel,
            ]
            for o in batch:
                d = o.delivery
                args += [
                    _STREAM_INDEX[d.priority], d.entry_id, d.run, o.kind.value, o.result,
                    o.error, o.error_type, o.traceback, o.reason, o.retry_delay_ms,
                ]
            await self.scripts.finish(keys=keys, args=args, client=pipe)
        codes: dict[int, int] = {}
        for batch, reply in zip(groups.values(), await self._execute(pipe), strict=True):
            for o, code in zip(batch, reply, strict=True):
                codes[id(o)] = int(code)
        return [codes[id(o)] for o in outcomes]

    async def renew(self, consumer: str, held: Sequence[Delivery]) -> list[Delivery]:
        """Refresh the leases of in-flight entries; returns those whose lease was lost."""
        if not held:
            return []
        groups: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
        for d in held:
            groups[(d.queue, d.priority)].append(d)
        pipe = self.redis.pipeline(transaction=False)
        for (queue, priority), batch in groups.items():
            await self.scripts.renew(
                keys=[self.keys(queue).stream(priority)],
                args=[GROUP, consumer, *(d.entry_id for d in batch)],
                client=pipe,
            )
        lost: list[Delivery] = []
        for batch, reply in zip(groups.values(), await self._execute(pipe), strict=True):
            gone = set(reply)
            lost += [d for d in batch if d.entry_id in gone]
        return lost

    # -- recovery ----------------------------------------------------------------------------

    async def reclaim(
        self, queue: str, priority: str, consumer: str, min_idle_ms: int, count: int = 100
    ) -> tuple[ReclaimResult, bytes]:
        """One XAUTOCLAIM page of abandoned entries, given back or dead-lettered.

        The raw reply is read so that its third element (entries deleted while pending)
        is not lost; those jobs are recovered from their records. Returns the next cursor.
        """
        k = self.keys(queue)
        stream = k.stream(priority)
        reply: Any = await self.redis.execute_command(  # type: ignore[no-untyped-call]
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
        job_ids = [_as_str(j) for j in await self.redis.zrange(k.index("processing"), 0, -1)]
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
                *(k.job(job_id) for job_id, _ in pairs),
            ],
            args=[
                0, GROUP, consumer, s.max_deliveries, s.events_max_entries,
                s.dead_max_entries, s.failed_ttl_s * 1000, "1" if check_owner else "0",
                "1" if count_lost else "0", *(entry for _, entry in pairs),
            ],
        )
        return ReclaimResult(int(reply[0]), int(reply[1]), int(reply[2]))

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

    async def set_progress(
        self, queue: str, job_id: str, run: int, fraction: float, message: str | None
    ) -> bool:
        """Store a running attempt's progress; ignored when the attempt is no longer current."""
        k = self.keys(queue)
        reply = await self.scripts.progress(
            keys=[k.job(job_id), k.events],
            args=[run, repr(fraction), message or "", self.settings.events_max_entries],
        )
        return bool(reply)

    async def promote(self, queue: str, batch: int = 500) -> PromoteResult:
        """Move due scheduled jobs into their streams; tells when the next one is due."""
        k = self.keys(queue)
        head = await self.redis.zrange(k.scheduled, 0, batch - 1)
        reply = await self.scripts.promote(
            keys=[
                *k.streams,
                k.scheduled,
                k.index("scheduled"),
                k.index("retrying"),
                k.index("queued"),
                k.events,
                *(k.job(_as_str(j)) for j in head),
            ],
            args=[0, self.settings.events_max_entries],
        )
        next_due = int(reply[1])
        return PromoteResult(int(reply[0]), None if next_due < 0 else next_due, int(reply[2]))

    # -- control -----------------------------------------------------------------------------

    async def cancel(self, queue: str, job_id: str) -> tuple[int, str]:
        """Cancel a job that has not finished; returns (code, previous or current status)."""
        k = self.keys(queue)
        s = self.settings
        reply = await self.scripts.cancel(
            keys=[
                k.job(job_id),
                k.scheduled,
                k.index("scheduled"),
                k.index("queued"),
                k.index("processing"),
                k.index("retrying"),
                k.index("cancelled"),
                k.events,
            ],
            args=[0, s.failed_ttl_s * 1000, s.events_max_entries, self.cancel_channel],
        )
        return int(reply[0]), _as_str(reply[1])

    async def requeue(
        self, queue: str, job_id: str, dead_entries: Sequence[bytes] = ()
    ) -> tuple[int, str]:
        """Give a failed or cancelled job a fresh attempt budget under the same id."""
        k = self.keys(queue)
        reply = await self.scripts.requeue(
            keys=[
                k.job(job_id),
                *k.streams,
                k.dead,
                k.index("failed"),
                k.index("cancelled"),
                k.index("queued"),
                k.events,
            ],
            args=[0, self.settings.events_max_entries, *dead_entries],
        )
        return int(reply[0]), _as_str(reply[1])

    def pubsub(self) -> PubSub:
        """A pub/sub connection for cancellation requests and scheduler wake-ups."""
        return self.redis.pubsub(ignore_subscribe_messages=True)

    @property
    def cancel_channel(self) -> str:
        """One channel for every queue: a node cancels the jobs it runs, whatever the queue."""
        return f"{self.settings.prefix}:cancel"

    # -- nodes and inspection ----------------------------------------------------------------

    async def redis_time_ms(self) -> int:
        """Redis's clock: the one clock every node agrees on."""
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def register_node(self, queues: Sequence[str], node: str, info: dict[str, Any]) -> int:
        """Record a node's heartbeat in each queue's registry; returns Redis time in ms."""
        now_ms = await self.redis_time_ms()
        blob = orjson.dumps({**info, "heartbeat_ms": now_ms})
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            k = self.keys(queue)
            pipe.zadd(k.workers, {node: now_ms})
            pipe.hset(k.worker_info, node, blob)
        await self._execute(pipe)
        return int(now_ms)

    async def unregister_node(self, queues: Sequence[str], node: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            k = self.keys(queue)
            pipe.zrem(k.workers, node)
            pipe.hdel(k.worker_info, node)
        await self._execute(pipe)

    async def prune_nodes(self, queue: str, now_ms: int) -> list[str]:
        """Forget nodes whose heartbeat is older than `node_ttl_ms`, and delete their
        consumers once nothing is pending under them (DELCONSUMER drops pending entries)."""
        k = self.keys(queue)
        cutoff = now_ms - self.settings.node_ttl_ms
        gone = [_as_str(n) for n in await self.redis.zrangebyscore(k.workers, "-inf", cutoff)]
        for node in gone:
            await self.redis.zrem(k.workers, node)
            await self.redis.hdel(k.worker_info, node)
        for stream in k.streams:
            try:
                consumers = await self.redis.xinfo_consumers(stream, GROUP)
            except ResponseError:
                continue
            for c in consumers:
                name = _as_str(c["name"])
                idle = int(c.get("inactive", c["idle"]))
                if c["pending"] == 0 and idle > self.settings.node_ttl_ms:
                    await self.redis.xgroup_delconsumer(stream, GROUP, name)
        return gone

    async def scheduled_count(self, queue: str) -> int:
        return int(await self.redis.zcard(self.keys(queue).scheduled))

    async def parked_count(self, queue: str, job_types: Iterable[str]) -> int:
        """Jobs parked by per-type concurrency limits, waiting for a slot."""
        k = self.keys(queue)
        return sum(await self.index_sizes([k.waiting(t) for t in job_types]))

    async def scheduled_ids(self, queue: str) -> list[str]:
        return [_as_str(j) for j in await self.redis.zrange(self.keys(queue).scheduled, 0, -1)]

    # == job control (issue 3): cron, listing, dead letters, pause, events, type limits ====

    async def cron_last(self, queue: str, names: Sequence[str]) -> list[int | None]:
        """The last tick (ms) taken by each cron, None for a cron never seen."""
        values = await self.redis.hmget(self.keys(queue).cron, list(names))
        return [None if v is None else int(v) for v in values]

    async def cron_begin(self, queue: str, name: str, tick_ms: int) -> int:
        """Give a new cron its starting point (kept if it has one); returns its last tick."""
        key = self.keys(queue).cron
        pipe = self.redis.pipeline(transaction=True)
        pipe.hsetnx(key, name, tick_ms)
        pipe.hget(key, name)
        _, last = await self._execute(pipe)
        return int(last)

    async def cron_fire(
        self, spec: EnqueueSpec, name: str, tick_ms: int, fire: bool
    ) -> tuple[int, str]:
        """Take one tick of a cron: write its job (fire) or only move past it (skip)."""
        k = self.keys(spec.queue)
        s = self.settings
        reply = await self.scripts.cron(
            keys=[
                k.cron, k.job(spec.job_id), k.stream(spec.priority), k.index("queued"),
                k.index_all, k.index_type(spec.type), k.types, k.events,
            ],
            args=[
                0, name, tick_ms, 1 if fire else 0, spec.job_id, spec.type, spec.payload,
                spec.priority, spec.max_retries, repr(spec.timeout_s), s.events_max_entries,
                s.max_backlog,
            ],
        )
        return int(reply[0]), _as_str(reply[1])

    async def index_page(
        self, key: str, after: tuple[int, str] | None, count: int
    ) -> list[tuple[int, str]]:
        """Up to `count` (score, id) of a listing index, newest first, after a cursor."""
        args: list[Any] = ["", "", count] if after is None else [after[0], after[1], count]
        flat = await self.scripts.list_page(keys=[key], args=args)
        return [(int(float(flat[i + 1])), _as_str(flat[i])) for i in range(0, len(flat), 2)]

    async def index_sizes(self, keys: Sequence[str]) -> list[int]:
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.zcard(key)
        return [int(n) for n in await self._execute(pipe)]

    async def job_records(self, queue: str, job_ids: Sequence[str]) -> list[dict[bytes, bytes]]:
        """HGETALL of each job, in one round trip ({} where the record is gone)."""
        k = self.keys(queue)
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(k.job(job_id))
        return list(await self._execute(pipe))

    async def trim_index(
        self, queue: str, key: str, job_type: str, job_ids: Sequence[str]
    ) -> int:
        """Drop the entries of `key` among `job_ids` whose record is gone."""
        if not job_ids:
            return 0
        k = self.keys(queue)
        return int(
            await self.scripts.trim(
                keys=[key, k.types, *(k.job(j) for j in job_ids)], args=[job_type]
            )
        )

    async def job_types(self, queue: str) -> list[str]:
        return sorted(_as_str(t) for t in await self.redis.smembers(self.keys(queue).types))

    async def sweep_index(
        self, queue: str, key: str, job_type: str, cutoff_ms: int, offset: int, count: int
    ) -> tuple[int, int]:
        """Check `count` entries older than `cutoff_ms` from `offset` on; drop those whose
        record is gone. Returns (entries checked, entries removed)."""
        ids = [
            _as_str(j)
            for j in await self.redis.zrangebyscore(key, "-inf", cutoff_ms, offset, count)
        ]
        return len(ids), await self.trim_index(queue, key, job_type, ids)

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

    async def dead_page(
        self,
        queue: str,
        before: str | None,
        since_ms: int | None,
        until_ms: int | None,
        count: int,
    ) -> list[tuple[str, dict[bytes, bytes]]]:
        """Up to `count` dead-letter entries, newest first, older than entry `before`."""
        if before is not None:
            end = f"({before}"
        elif until_ms is not None:
            end = f"{until_ms}-18446744073709551615"
        else:
            end = "+"
        start = "-" if since_ms is None else f"{since_ms}-0"
        reply: Any = await self.redis.xrevrange(self.keys(queue).dead, end, start, count)
        return [(_as_str(entry_id), fields) for entry_id, fields in reply]

    async def dead_last_id(self, queue: str) -> str | None:
        reply: Any = await self.redis.xrevrange(self.keys(queue).dead, "+", "-", 1)
        return _as_str(reply[0][0]) if reply else None

    async def dead_range(
        self, queue: str, after: str, until: str, count: int
    ) -> list[tuple[str, dict[bytes, bytes]]]:
        """Up to `count` dead-letter entries, oldest first, after `after` up to `until`."""
        start = "-" if after == "-" else f"({after}"
        reply: Any = await self.redis.xrange(self.keys(queue).dead, start, until, count)
        return [(_as_str(entry_id), fields) for entry_id, fields in reply]

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
            (None if st is None else _as_str(st), None if fin is None else _as_str(fin))
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
                return _as_str(entry_id)
        return None

    async def dlq_delete(
        self, queue: str, entries: Sequence[tuple[str, str, str, str]]
    ) -> list[int]:
        """Remove dead-letter entries (entry id, job id, type, time); the job of a live one
        is deleted with them. Codes: 1 job deleted | 0 stale entry | -1 no record."""
        if not entries:
            return []
        k = self.keys(queue)
        keys = [k.dead, k.index("failed"), k.index_all, k.events]
        args: list[Any] = [0, self.settings.events_max_entries]
        for entry_id, job_id, job_type, time_ms in entries:
            keys += [k.job(job_id), k.index_type(job_type)]
            args += [entry_id, time_ms]
        return [int(c) for c in await self.scripts.dlq_delete(keys=keys, args=args)]

    async def requeue_many(
        self, queue: str, jobs: Sequence[tuple[str, str]]
    ) -> list[tuple[int, str]]:
        """Requeue (job id, dead-letter entry id) pairs in one round trip."""
        if not jobs:
            return []
        k = self.keys(queue)
        pipe = self.redis.pipeline(transaction=False)
        for job_id, entry_id in jobs:
            await self.scripts.requeue(
                keys=[
                    k.job(job_id), *k.streams, k.dead, k.index("failed"),
                    k.index("cancelled"), k.index("queued"), k.events,
                ],
                args=[0, self.settings.events_max_entries, entry_id],
                client=pipe,
            )
        return [(int(r[0]), _as_str(r[1])) for r in await self._execute(pipe)]

    async def set_paused(self, queue: str, priorities: Sequence[str], paused: bool) -> list[str]:
        """Pause or resume priorities of a queue; returns the paused ones after."""
        reply = await self.scripts.pause(
            keys=[self.keys(queue).paused],
            args=[0, "pause" if paused else "resume", *priorities],
        )
        return [_as_str(p) for p in reply]

    async def paused_priorities(self, queue: str) -> list[str]:
        fields = {_as_str(f) for f in await self.redis.hkeys(self.keys(queue).paused)}
        return [p for p in PRIORITIES if p in fields or "*" in fields]

    async def events_last_ids(self, queues: Sequence[str]) -> dict[str, str]:
        """The id of each queue's newest event ('0-0' when none): where a live watch starts."""
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            pipe.xrevrange(self.keys(queue).events, "+", "-", 1)
        return {
            queue: _as_str(reply[0][0]) if reply else "0-0"
            for queue, reply in zip(queues, await self._execute(pipe), strict=True)
        }

    async def read_events(
        self, after: dict[str, str], block_ms: int, count: int = 500
    ) -> list[tuple[str, str, dict[bytes, bytes]]]:
        """Events after each queue's id, waiting up to `block_ms` for the first one;
        returns (queue, entry id, fields)."""
        by_stream = {self.keys(q).events: q for q in after}
        reply: Any = await self.redis.xread(
            {stream: after[q] for stream, q in by_stream.items()}, count=count, block=block_ms
        )
        return [
            (by_stream[_as_str(stream)], _as_str(entry_id), fields)
            for stream, entries in reply or []
            for entry_id, fields in entries
        ]

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
                0, GROUP, limit, self.settings.visibility_timeout_ms, rank,
                *(d.entry_id for d in batch),
            ],
        )
        return [bool(int(flag)) for flag in reply]

    async def release(
        self, queue: str, job_type: str, limit: int, job_ids: Sequence[str] = ()
    ) -> tuple[int, int, int]:
        """Free the slots of finished jobs and give parked ones back while slots are free.
        Returns (given back, running, waiting)."""
        k = self.keys(queue)
        head = await self.redis.zrange(k.waiting(job_type), 0, limit + 20)
        reply = await self.scripts.release(
            keys=[
                k.running(job_type), k.waiting(job_type), *k.streams,
                *(k.job(_as_str(j)) for j in head),
            ],
            args=[0, limit, self.settings.visibility_timeout_ms, *job_ids],
        )
        return int(reply[0]), int(reply[1]), int(reply[2])

    async def renew_slots(self, queue: str, job_type: str, job_ids: Sequence[str]) -> None:
        """Extend the leases of running jobs of a limited type (only those still held)."""
        if not job_ids:
            return
        now_ms = await self.redis_time_ms()
        expiry = now_ms + self.settings.visibility_timeout_ms
        await self.redis.zadd(
            self.keys(queue).running(job_type), dict.fromkeys(job_ids, expiry), xx=True, gt=True
        )

    # == queue statistics (issue 4: GET /queues, streamq inspect, queue gauges) ===========

    async def ping(self) -> None:
        await self.redis.ping()

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
        for reply in replies:  # a missing stream answers ResponseError; anything else is real
            if isinstance(reply, Exception) and not isinstance(reply, ResponseError):
                raise reply
        seconds, micros = replies[0]
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        rest = iter(replies[1:])
        return [self._one_queue_stats(queue, rest, now_ms) for queue in queues]

    def _one_queue_stats(self, queue: str, replies: Iterator[Any], now_ms: int) -> QueueStats:
        k = self.keys(queue)
        per_stream = [(next(replies), next(replies)) for _ in PRIORITIES]
        scheduled, dead, nodes, paused_fields = (next(replies) for _ in range(4))
        paused = {_as_str(f) for f in paused_fields}
        priorities = [
            priority_stats(p, k.stream(p), info, groups, now_ms, "*" in paused or p in paused)
            for p, (info, groups) in zip(PRIORITIES, per_stream, strict=True)
        ]
        live = [n for n, beat in nodes if beat > now_ms - self.settings.node_ttl_ms]
        return QueueStats(
            queue=queue, priorities=priorities, scheduled=int(scheduled), dead=int(dead),
            workers=len(live), paused=all(p.paused for p in priorities),
        )

    async def job_statuses(self, jobs: Sequence[tuple[str, str]]) -> list[str | None]:
        """Status of each (job id, queue), None where the record is gone."""
        pipe = self.redis.pipeline(transaction=False)
        for job_id, queue in jobs:
            pipe.hget(self.keys(queue).job(job_id), "status")
        return [None if st is None else _as_str(st) for st in await self._execute(pipe)]
