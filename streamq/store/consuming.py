"""Consuming: consumer groups, fetching, starting, finishing and renewing attempts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from redis.exceptions import ResponseError

from ..job import Delivery, Outcome
from ..keys import GROUP, PRIORITIES
from .base import StoreBase
from .classify import translate_errors
from .codes import FinishCode, ProgressCode
from .results import FetchResult, as_str, pairs

_STREAM_INDEX = {p: str(i + 1) for i, p in enumerate(PRIORITIES)}


@translate_errors
class Consuming(StoreBase):
    """What a worker node does to the entries it runs."""

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
        active = [as_str(p) for p in reply[0]]
        deliveries = [
            self._delivery(queue, as_str(priority), entry_id, pairs(fields))
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
            payload=b"",  # the start script hands it over from the record
            timeout_s=float(fields[b"timeout"]),
            max_retries=int(fields[b"retries"]),
            attempt=0,
            enqueued_ms=int(fields[b"enq"]),
        )

    async def start(self, consumer: str, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Mark fetched entries as processing; returns the runnable ones with run, attempt
        and payload (kept once, in the record). Entries of a paused priority are handed back
        as fresh entries, not started."""
        if not deliveries:
            return []
        s = self.settings
        groups: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
        for d in deliveries:
            groups[(d.queue, d.priority)].append(d)
        calls = []
        for (queue, priority), batch in groups.items():
            k = self.keys(queue)
            keys = [
                k.stream(priority),
                k.index("queued"),
                k.index("processing"),
                k.events,
                k.paused,
                *(k.job(d.job_id) for d in batch),
            ]
            args = [
                self.now_arg(), consumer, s.events_max_entries, GROUP, priority,
                *(x for d in batch for x in (d.job_id, d.entry_id)),
            ]
            calls.append((keys, args))
        replies = await self._run_script(self.scripts.start, calls)
        runnable: list[Delivery] = []
        for batch, reply in zip(groups.values(), replies, strict=True):
            for i, d in enumerate(batch):
                run, attempt, payload = reply[3 * i : 3 * i + 3]
                if int(run) > 0:
                    runnable.append(
                        Delivery(
                            d.queue, d.priority, d.entry_id, d.job_id, d.type, payload,
                            d.timeout_s, d.max_retries, int(attempt), d.enqueued_ms, int(run),
                        )
                    )
        return runnable

    async def finish(self, outcomes: Sequence[Outcome]) -> list[FinishCode]:
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
                k.archive,
                *(k.job(o.delivery.job_id) for o in batch),
            ]
            args: list[Any] = [
                self.now_arg(),
                s.result_ttl_s * 1000,
                s.failed_ttl_s * 1000,
                s.events_max_entries,
                s.dead_max_entries,
                GROUP,
                k.wake_channel,
                self.archive_maxlen,
            ]
            for o in batch:
                d = o.delivery
                args += [
                    d.job_id, _STREAM_INDEX[d.priority], d.entry_id, d.run, o.kind.value,
                    o.result, o.error, o.error_type, o.traceback, o.reason, o.retry_delay_ms,
                ]
            await self.scripts.finish(keys=keys, args=args, client=pipe)
        codes: dict[int, FinishCode] = {}
        for batch, reply in zip(groups.values(), await self._execute(pipe), strict=True):
            for o, code in zip(batch, reply, strict=True):
                codes[id(o)] = FinishCode(int(code))
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

    async def trace_contexts(self, deliveries: Sequence[Delivery]) -> list[str]:
        """The trace context the enqueue script kept in each job's record ("" for none),
        in one round trip; read only by a node that traces its jobs."""
        pipe = self.redis.pipeline(transaction=False)
        for d in deliveries:
            pipe.hget(self.keys(d.queue).job(d.job_id), "trace")
        return [as_str(v) if v else "" for v in await self._execute(pipe)]

    async def set_progress(
        self, queue: str, job_id: str, run: int, fraction: float, message: str | None
    ) -> bool:
        """Store a running attempt's progress; False (ignored) when the attempt is no
        longer the job's current one."""
        k = self.keys(queue)
        reply = await self.scripts.progress(
            keys=[k.job(job_id), k.events],
            args=[run, repr(fraction), message or "", self.settings.events_max_entries],
        )
        return ProgressCode(int(reply)) is ProgressCode.STORED
