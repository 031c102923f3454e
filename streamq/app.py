"""App: the task registry and the producer/inspector facade over the store."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import orjson
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError, OutOfMemoryError, ReadOnlyError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .connection import connect
from .control import (
    MAX_PAGE,
    Candidate,
    Cursor,
    DeadLetter,
    DeadLetterPage,
    Event,
    JobPage,
    Page,
    Position,
    check_limit,
    entry_key,
    error_fingerprint,
    paginate,
    to_ms,
)
from .cron import CronJob, check_expression, parse_misfire
from .errors import (
    BackendUnavailable,
    ConfigurationError,
    InvalidTransition,
    JobNotFound,
    PayloadTooLarge,
    StreamqError,
    UnknownTaskType,
    ValidationError,
)
from .ids import new_job_id
from .job import Job, JobStatus, Priority
from .keys import PRIORITIES, STATUSES
from .metrics import JOBS_ENQUEUED
from .policy import Backoff
from .settings import Settings
from .stats import QueueStats
from .store import EnqueueResult, EnqueueSpec, Store
from .task import Task, TaskOptions

P = ParamSpec("P")
R = TypeVar("R")

MAX_SCHEDULE_AHEAD_S = 366 * 86_400
MAX_IDEMPOTENCY_KEY_LEN = 256


@dataclass(frozen=True)
class JobRequest:
    """One job to enqueue through `enqueue_many`."""

    type: str
    payload: dict[str, Any] | None = None
    priority: str | None = None
    delay: float | timedelta | None = None
    run_at: datetime | float | None = None
    max_retries: int | None = None
    timeout: float | None = None
    idempotency_key: str | None = None
    queue: str | None = None


class App:
    """Tasks are declared on an App; producers enqueue through it, workers run its tasks."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        base = settings or Settings()
        self.settings = base.model_copy(update=overrides) if overrides else base
        self.tasks: dict[str, Task[Any, Any]] = {}
        self._redis: Redis | None = None
        self._store: Store | None = None
        self.crons: dict[str, CronJob] = {}

    # -- declaration -------------------------------------------------------------------------

    def task(
        self,
        name: str | None = None,
        *,
        queue: str | None = None,
        priority: str = "normal",
        max_retries: int | None = None,
        timeout: float | None = None,
        retry_backoff: Backoff | float | None = None,
        fail_on: Sequence[type[BaseException]] = (),
        concurrency: int | None = None,
    ) -> Callable[[Callable[P, R]], Task[P, R]]:
        """Register a handler (async or plain) under `name` (default: module.qualname)."""
        s = self.settings
        if isinstance(retry_backoff, Backoff):
            backoff = retry_backoff
        else:
            backoff = Backoff(retry_backoff or s.retry_base_s, s.retry_cap_s)
        options = TaskOptions(
            queue=queue or s.queue,
            priority=Priority.parse(priority).value,
            max_retries=s.max_retries if max_retries is None else max_retries,
            timeout_s=s.job_timeout_s if timeout is None else float(timeout),
            backoff=backoff,
            fail_on=tuple(fail_on),
            concurrency=concurrency,
        )
        if options.max_retries < 0 or options.timeout_s <= 0:
            raise ValidationError("max_retries must be >= 0 and timeout > 0")

        def register(handler: Callable[P, R]) -> Task[P, R]:
            task_name = name or f"{handler.__module__}.{handler.__qualname__}"
            if task_name in self.tasks:
                raise ValidationError(f"task {task_name!r} is registered twice")
            task: Task[P, R] = Task(task_name, handler, options)
            self.tasks[task_name] = task
            return task

        return register

    @property
    def queues(self) -> list[str]:
        """Every queue this app knows: the default one and those its tasks name."""
        names = [self.settings.queue, *(t.options.queue for t in self.tasks.values())]
        return list(dict.fromkeys(names))

    # -- connection --------------------------------------------------------------------------

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            self._redis = connect(self.settings)
        return self._redis

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.redis, self.settings)
        return self._store

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
            self._store = None

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- producing ---------------------------------------------------------------------------

    async def enqueue(
        self,
        type: str,
        payload: dict[str, Any] | None = None,
        *,
        priority: str | None = None,
        delay: float | timedelta | None = None,
        run_at: datetime | float | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the job's time limit, not ours
        idempotency_key: str | None = None,
        queue: str | None = None,
    ) -> str:
        """Validate and store one job; returns its id (the existing one on a key replay)."""
        request = JobRequest(
            type, payload, priority, delay, run_at, max_retries, timeout, idempotency_key, queue
        )
        return (await self.enqueue_many([request]))[0].job_id

    async def enqueue_many(self, requests: Iterable[JobRequest]) -> list[EnqueueResult]:
        """Validate every job first, then store them all in one round trip."""
        specs = [self.build_spec(r) for r in requests]
        if not specs:
            return []
        results = await self._call(self.store.enqueue(specs))
        _count_enqueued(self.tasks, specs, results)
        return results

    def build_spec(self, r: JobRequest) -> EnqueueSpec:
        """Check one request and turn it into what the store writes; raises, stores nothing."""
        s = self.settings
        task = self.tasks.get(r.type)
        if task is None and self.tasks:
            raise UnknownTaskType(f"unknown task type {r.type!r}", field="type")
        if not r.type or len(r.type) > 200:
            raise ValidationError("type must be 1 to 200 characters", field="type")
        payload = {} if r.payload is None else r.payload
        if task is not None:
            task.validate(payload)
        elif not isinstance(payload, dict):
            raise ValidationError("payload must be a JSON object", field="payload")
        try:
            body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:
            raise ValidationError(
                f"payload is not JSON-serialisable: {exc}", field="payload"
            ) from None
        if len(body) > s.max_payload_bytes:
            raise PayloadTooLarge(
                f"payload is {len(body)} bytes, over the limit of {s.max_payload_bytes}",
                field="payload",
            )
        opts = task.options if task else None
        priority = Priority.parse(r.priority or (opts.priority if opts else "normal")).value
        max_retries = r.max_retries if r.max_retries is not None else (
            opts.max_retries if opts else s.max_retries
        )
        if max_retries < 0 or max_retries > 1000:
            raise ValidationError("max_retries must be between 0 and 1000", field="max_retries")
        timeout = r.timeout if r.timeout is not None else (
            opts.timeout_s if opts else s.job_timeout_s
        )
        if not 0 < timeout <= 86_400 * 7:
            raise ValidationError("timeout must be > 0 and at most 7 days", field="timeout")
        delay_ms, run_at_ms = _schedule(r.delay, r.run_at)
        key = r.idempotency_key
        if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_LEN:
            raise ValidationError(
                f"idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters",
                field="idempotency_key",
            )
        fingerprint = hashlib.blake2b(r.type.encode() + b"\0" + body, digest_size=12).hexdigest()
        return EnqueueSpec(
            queue=r.queue or (opts.queue if opts else s.queue),
            job_id=new_job_id(),
            type=r.type,
            payload=body,
            priority=priority,
            max_retries=max_retries,
            timeout_s=float(timeout),
            delay_ms=delay_ms,
            run_at_ms=run_at_ms,
            idempotency_key=key,
            fingerprint=fingerprint,
        )

    # -- inspecting and controlling ----------------------------------------------------------

    async def get_job(self, job_id: str) -> Job:
        """The job's record; raises JobNotFound when none (or its retention expired)."""
        job = await self._call(self.store.get_job(self.queues, job_id))
        if job is None:
            raise JobNotFound(f"no job {job_id!r}", job_id=job_id)
        return job

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job that has not finished; a running handler is stopped on its node."""
        job = await self.get_job(job_id)
        code, status = await self._call(self.store.cancel(job.queue, job_id))
        if code == -1:
            raise JobNotFound(f"no job {job_id!r}", job_id=job_id)
        if code == 0:
            raise InvalidTransition(
                f"job {job_id} is already {status}; only unfinished jobs can be cancelled",
                job_id=job_id,
                status=status,
            )
        return await self.get_job(job_id)

    async def retry(self, job_id: str) -> Job:
        """Run a failed or cancelled job again under the same id with a fresh budget."""
        job = await self.get_job(job_id)
        dead = await self._dead_entries(job)  # a failed job leaves the dead-letter queue too
        code, status = await self._call(self.store.requeue(job.queue, job_id, dead))
        if code == -1:
            raise JobNotFound(f"no job {job_id!r}", job_id=job_id)
        if code == 0:
            raise InvalidTransition(
                f"job {job_id} is {status}; only failed or cancelled jobs can be retried",
                job_id=job_id,
                status=status,
            )
        return await self.get_job(job_id)

    async def wait_for(self, job_id: str, timeout_s: float = 30.0, poll_s: float = 0.02) -> Job:
        """Poll until the job reaches a terminal state; raises TimeoutError after timeout_s."""
        import anyio

        with anyio.fail_after(timeout_s):
            while True:
                job = await self.get_job(job_id)
                if JobStatus(job.status).terminal:
                    return job
                await anyio.sleep(poll_s)

    # == job control (issue 3): cron, listing, dead letters, pause, events ===================

    def cron(
        self,
        expr: str,
        *,
        name: str | None = None,
        payload: dict[str, Any] | None = None,
        timezone: str = "UTC",
        misfire: str = "skip",
        queue: str | None = None,
        priority: str = "normal",
        max_retries: int | None = None,
        timeout: float | None = None,
    ) -> Callable[[Callable[P, R]], Task[P, R]]:
        """Register a handler as a task and fire it at every tick of `expr`.

        A bad expression, time zone, misfire policy or payload is refused here, before the
        task is registered (ConfigurationError)."""
        check_expression(expr, name or "")

        def register(handler: Callable[P, R]) -> Task[P, R]:
            task_name = name or f"{handler.__module__}.{handler.__qualname__}"
            # checks expression, zone and misfire policy before the task exists
            CronJob(task_name, expr, task_name, {}, timezone, parse_misfire(misfire),
                    queue or self.settings.queue)
            task = self.task(
                task_name, queue=queue, priority=priority, max_retries=max_retries,
                timeout=timeout,
            )(handler)
            try:
                self.add_cron(expr, task_name, name=task_name, payload=payload,
                              timezone=timezone, misfire=misfire)
            except Exception:
                del self.tasks[task_name]
                raise
            return task

        return register

    def add_cron(
        self,
        expr: str,
        type: str | Task[Any, Any],
        *,
        name: str | None = None,
        payload: dict[str, Any] | None = None,
        timezone: str = "UTC",
        misfire: str = "skip",
        priority: str | None = None,
        queue: str | None = None,
    ) -> CronJob:
        """Fire a job of a registered task `type` with `payload` at every tick of `expr`
        (5 fields, or 6 with seconds first), in `timezone`. Refuses bad declarations with
        ConfigurationError."""
        type_name = type.name if isinstance(type, Task) else type
        cron_name = name or type_name
        task = self.tasks.get(type_name)
        if task is None:
            raise ConfigurationError(f"cron {cron_name!r}: no task named {type_name!r}")
        if cron_name in self.crons:
            raise ConfigurationError(f"cron {cron_name!r} is declared twice")
        body = {} if payload is None else payload
        try:
            task.validate(body)
            if priority is not None:
                Priority.parse(priority)
        except ValidationError as exc:
            raise ConfigurationError(f"cron {cron_name!r}: {exc}") from None
        cron = CronJob(
            cron_name, expr, type_name, body, timezone, parse_misfire(misfire),
            queue or task.options.queue, priority,
        )
        self.crons[cron_name] = cron
        return cron

    async def list_jobs(
        self,
        status: str | None = None,
        type: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        """Jobs newest first, one page at a time (see `streamq.control` for the cursor).

        No filter: every job by creation time (index:all). `type`: that type's jobs by
        creation time. `status`: by the time they entered that status. Both: the smaller of
        the two indices, filtered. Items are checked against their record when read, so a
        job is never listed twice, and one that keeps its status is never skipped."""
        if status is not None and status not in STATUSES:
            raise ValidationError(
                f"unknown status {status!r}; use one of {', '.join(STATUSES)}", field="status"
            )
        check_limit(limit)
        if type is not None and not 0 < len(type) <= 200:
            raise ValidationError("type must be 1 to 200 characters", field="type")
        queues = self._listing_queues(queue)
        filters = {"status": status, "type": type, "queue": queue}
        if cursor is not None:
            state = Cursor.decode(cursor, filters, queues)
        else:
            kind = await self._call(self._listing_kind(queues, status, type))
            state = Cursor(filters, dict.fromkeys(queues), kind)
        if state.kind not in ("all", "status", "type"):
            raise ValidationError("cursor is damaged", field="cursor")
        store = self.store

        def index(q: str) -> str:
            k = store.keys(q)
            if state.kind == "status" and status is not None:
                return k.index(status)
            if state.kind == "type" and type is not None:
                return k.index_type(type)
            return k.index_all

        async def fetch(q: str, after: Position, n: int) -> list[Candidate[str]]:
            key = (after[0], after[1]) if isinstance(after, list) else None
            rows = await store.index_page(index(q), key, n)
            return [Candidate((s, j), q, [s, j], j) for s, j in rows]

        async def evaluate(batch: list[Candidate[str]]) -> list[Job | None]:
            out: dict[int, Job | None] = {}
            for q in dict.fromkeys(c.queue for c in batch):
                mine = [(i, c.item) for i, c in enumerate(batch) if c.queue == q]
                records = await store.job_records(q, [j for _, j in mine])
                gone = [j for (_, j), raw in zip(mine, records, strict=True) if not raw]
                for (i, j), raw in zip(mine, records, strict=True):
                    job = Job.from_record(j, q, raw) if raw else None
                    keep = job is not None and (status is None or job.status == status) and (
                        type is None or job.type == type
                    )
                    out[i] = job if keep else None
                index_type = type if state.kind == "type" and type is not None else ""
                await store.trim_index(q, index(q), index_type, gone)  # read repair
            return [out[i] for i in range(len(batch))]

        page = await self._call(
            paginate(state.positions, fetch, evaluate, limit, _budget(limit), _chunk(limit))
        )
        next_cursor = None if page.done else Cursor(filters, page.positions, state.kind).encode()
        return JobPage(jobs=page.items, next_cursor=next_cursor)

    def _listing_queues(self, queue: str | None) -> list[str]:
        if queue is None:
            return self.queues
        if not isinstance(queue, str) or not 0 < len(queue) <= 200:
            raise ValidationError("queue must be 1 to 200 characters", field="queue")
        return [queue]

    async def _listing_kind(self, queues: list[str], status: str | None, type: str | None) -> str:
        if status is None:
            return "all" if type is None else "type"
        if type is None:
            return "status"
        keys = self.store.keys
        sizes = await self.store.index_sizes(
            [*(keys(q).index(status) for q in queues), *(keys(q).index_type(type) for q in queues)]
        )
        by_status, by_type = sum(sizes[: len(queues)]), sum(sizes[len(queues) :])
        return "status" if by_status <= by_type else "type"

    async def dlq_list(
        self,
        queue: str | None = None,
        type: str | None = None,
        fingerprint: str | None = None,
        since: datetime | float | None = None,
        until: datetime | float | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> DeadLetterPage:
        """Dead-letter entries of jobs still failed, newest first, filtered by type, error
        fingerprint and failure time window [since, until]."""
        check_limit(limit)
        queues = self._listing_queues(queue)
        since_ms, until_ms = _window(since, until)
        filters = {"queue": queue, "type": type, "fingerprint": fingerprint,
                   "since": since_ms, "until": until_ms}
        state = (
            Cursor.decode(cursor, filters, queues) if cursor is not None
            else Cursor(filters, dict.fromkeys(queues), "dead")
        )
        page = await self._call(
            self._dead_page(state.positions, type, fingerprint, since_ms, until_ms, limit)
        )
        next_cursor = None if page.done else Cursor(filters, page.positions, "dead").encode()
        return DeadLetterPage(entries=page.items, next_cursor=next_cursor)

    async def _dead_page(
        self,
        positions: dict[str, Position],
        type: str | None,
        fingerprint: str | None,
        since_ms: int | None,
        until_ms: int | None,
        limit: int,
    ) -> Page[DeadLetter]:
        store = self.store

        async def fetch(
            q: str, after: Position, n: int
        ) -> list[Candidate[tuple[str, dict[bytes, bytes]]]]:
            before = f"{after[0]}-{after[1]}" if isinstance(after, list) else None
            rows = await store.dead_page(q, before, since_ms, until_ms, n)
            out = []
            for entry_id, fields in rows:
                ms, seq = entry_key(entry_id)
                out.append(Candidate((ms, seq, q), q, [ms, seq], (entry_id, fields)))
            return out

        async def evaluate(
            batch: list[Candidate[tuple[str, dict[bytes, bytes]]]],
        ) -> list[DeadLetter | None]:
            out: dict[int, DeadLetter | None] = {}
            for q in dict.fromkeys(c.queue for c in batch):
                mine = [(i, c.item) for i, c in enumerate(batch) if c.queue == q]
                marks = await store.failure_marks(
                    q, [f.get(b"job", b"").decode() for _, (_, f) in mine]
                )
                for (i, (entry_id, fields)), (st, fin) in zip(mine, marks, strict=True):
                    letter = _dead_letter(q, entry_id, fields)
                    live = st == "failed" and fin == fields.get(b"time", b"").decode()
                    keep = live and (type is None or letter.type == type) and (
                        fingerprint is None or letter.fingerprint == fingerprint
                    )
                    out[i] = letter if keep else None
            return [out[i] for i in range(len(batch))]

        return await paginate(positions, fetch, evaluate, limit, _budget(limit), _chunk(limit))

    async def dlq_retry(self, job_id: str) -> Job:
        """Requeue one dead-lettered job under the same id with a fresh attempt budget."""
        job, entry, _ = await self._dead_job(job_id)
        code, status = await self._call(self.store.requeue(job.queue, job_id, [entry.encode()]))
        if code != 1:
            raise JobNotFound(f"job {job_id} is {status or 'gone'}, not in the dead-letter "
                              "queue", job_id=job_id)
        return await self.get_job(job_id)

    async def dlq_requeue(
        self,
        queue: str | None = None,
        type: str | None = None,
        fingerprint: str | None = None,
        since: datetime | float | None = None,
        until: datetime | float | None = None,
    ) -> int:
        """Requeue every dead-lettered job that matches; returns how many were requeued."""
        queues = self._listing_queues(queue)
        since_ms, until_ms = _window(since, until)
        positions: dict[str, Position] = dict.fromkeys(queues)
        total = 0
        while True:
            page = await self._call(
                self._dead_page(positions, type, fingerprint, since_ms, until_ms, MAX_PAGE)
            )
            for q in dict.fromkeys(d.queue for d in page.items):
                pairs = [(d.job_id, d.entry_id) for d in page.items if d.queue == q]
                replies = await self._call(self.store.requeue_many(q, pairs))
                total += sum(1 for code, _ in replies if code == 1)
            if page.done:
                return total
            positions = page.positions

    async def dlq_delete(self, job_id: str) -> None:
        """Remove a job's dead-letter entry and forget the job; JobNotFound if not there."""
        job, entry, finished = await self._dead_job(job_id)
        codes = await self._call(
            self.store.dlq_delete(job.queue, [(entry, job_id, job.type, finished)])
        )
        if codes != [1]:
            raise JobNotFound(f"job {job_id} is not in the dead-letter queue", job_id=job_id)

    async def dlq_purge(self, queue: str | None = None) -> int:
        """Remove every dead-letter entry of the queue (default: all the app's queues) and
        forget their jobs; returns how many failed jobs were removed."""
        total = 0
        for q in self._listing_queues(queue):
            last = await self._call(self.store.dead_last_id(q))
            after = "-"
            while last is not None:
                rows = await self._call(self.store.dead_range(q, after, last, 500))
                if not rows:
                    break
                entries = [
                    (entry_id, f.get(b"job", b"").decode(), f.get(b"type", b"").decode(),
                     f.get(b"time", b"").decode())
                    for entry_id, f in rows
                ]
                codes = await self._call(self.store.dlq_delete(q, entries))
                total += codes.count(1)
                after = rows[-1][0]
        return total

    async def _dead_entries(self, job: Job) -> list[bytes]:
        """The dead-letter entry of a failed job's current failure, if it can be found."""
        if job.status != JobStatus.FAILED:
            return []
        _, entry, _ = await self._live_dead_entry(job)
        return [] if entry is None else [entry.encode()]

    async def _live_dead_entry(self, job: Job) -> tuple[str | None, str | None, str | None]:
        """(status, live dead-letter entry id, failure time) as the record says now: an
        entry is live while the job is `failed` from that very failure."""
        [(status, finished)] = await self._call(self.store.failure_marks(job.queue, [job.id]))
        if status != "failed" or not finished:
            return status, None, finished
        entry = await self._call(self.store.find_dead_entry(job.queue, job.id, int(finished)))
        return status, entry, finished

    async def _dead_job(self, job_id: str) -> tuple[Job, str, str]:
        """A failed job with its live dead-letter entry id and failure time, or JobNotFound."""
        job = await self.get_job(job_id)
        status, entry, finished = await self._live_dead_entry(job)
        if entry is None or finished is None:
            raise JobNotFound(
                f"job {job_id} is {status}, not in the dead-letter queue", job_id=job_id
            )
        return job, entry, finished

    async def pause(self, queue: str | None = None, priority: str | None = None) -> None:
        """Stop fetching from a queue (default: the app's default queue), or from one of its
        priorities, on every node within a second. Enqueueing still works."""
        q, priorities = self._pause_target(queue, priority)
        await self._call(self.store.set_paused(q, priorities, True))

    async def resume(self, queue: str | None = None, priority: str | None = None) -> None:
        """Undo `pause` for the queue, or for one priority; fetching continues where it was."""
        q, priorities = self._pause_target(queue, priority)
        await self._call(self.store.set_paused(q, priorities, False))

    async def paused(self, queue: str | None = None) -> list[str]:
        """The paused priorities of a queue (all three when the whole queue is paused)."""
        [q] = self._listing_queues(self.settings.queue if queue is None else queue)
        return await self._call(self.store.paused_priorities(q))

    def _pause_target(self, queue: str | None, priority: str | None) -> tuple[str, list[str]]:
        [q] = self._listing_queues(self.settings.queue if queue is None else queue)
        if priority is None:
            return q, list(PRIORITIES)
        return q, [Priority.parse(priority).value]

    async def watch(
        self, job_id: str | None = None, queue: str | None = None, since: str | None = None
    ) -> AsyncIterator[Event]:
        """Yield state changes as they happen (of one job, or of all), from the queue's
        events stream (default: every queue of the app). `since`: an event id to start
        after ('0' for all retained events); default: only events after the first read."""
        queues = self._listing_queues(queue)
        if since is not None and not _EVENT_ID.fullmatch(since):
            raise ValidationError("since must be an event id such as 1700000000000-0",
                                  field="since")
        after = (
            await self._call(self.store.events_last_ids(queues)) if since is None
            else dict.fromkeys(queues, since)
        )
        block_ms = max(10, min(1000, int(self.settings.redis_timeout_s * 500)))
        wanted = job_id.encode() if job_id is not None else None
        while True:
            rows = await self._call(self.store.read_events(after, block_ms))
            for q, entry_id, fields in rows:
                after[q] = entry_id
                if wanted is None or fields.get(b"job") == wanted:
                    yield Event.from_entry(q, entry_id, fields)

    # == services (issue 4): per-item batches, queue statistics ==============================

    async def enqueue_each(
        self, requests: Iterable[JobRequest]
    ) -> list[EnqueueResult | StreamqError]:
        """Validate every job first (any invalid one raises, nothing is stored), then store
        them in one round trip; a refused job gets its error in its place."""
        specs = [self.build_spec(r) for r in requests]
        if not specs:
            return []
        results = await self._call(self.store.enqueue_each(specs))
        _count_enqueued(self.tasks, specs, results)
        return results

    async def ping(self) -> None:
        """Raise BackendUnavailable unless Redis answers."""
        await self._call(self.store.ping())

    async def queue_stats(self, queues: Sequence[str] | None = None) -> list[QueueStats]:
        """Each queue's streams, scheduled, dead and workers, in one round trip
        (default: every queue of the app)."""
        names = list(queues) if queues is not None else self.queues
        for name in names:
            self._listing_queues(name)
        return await self._call(self.store.queue_stats(names))

    async def _call(self, coro: Awaitable[R]) -> R:
        """Turn Redis connection failures into BackendUnavailable."""
        try:
            return await coro
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BackendUnavailable(f"Redis is unavailable: {exc}") from exc
        except (OutOfMemoryError, BusyLoadingError, ReadOnlyError) as exc:
            # Refused before anything was written (a script fails on its first write):
            # out of memory, still loading its data, or a replica. Try again later.
            raise BackendUnavailable(f"Redis refuses writes: {exc}") from exc


def _count_enqueued(
    tasks: dict[str, Any],
    specs: Sequence[EnqueueSpec],
    results: Sequence[EnqueueResult | StreamqError],
) -> None:
    """Count new jobs; a type no task registers is `other`, so labels stay bounded."""
    for spec, result in zip(specs, results, strict=True):
        if isinstance(result, EnqueueResult) and result.created:
            JOBS_ENQUEUED.labels(spec.queue, spec.type if spec.type in tasks else "other").inc()


def _schedule(delay: float | timedelta | None, run_at: datetime | float | None) -> tuple[int, int]:
    """(delay_ms, run_at_ms) from the caller's delay or absolute time, checked."""
    if delay is not None and run_at is not None:
        raise ValidationError("give delay or run_at, not both", field="delay")
    if delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        if seconds != seconds or seconds < 0 or seconds > MAX_SCHEDULE_AHEAD_S:
            raise ValidationError("delay must be 0 to 366 days, in seconds", field="delay")
        return round(seconds * 1000), 0
    if run_at is not None:
        ts = run_at.timestamp() if isinstance(run_at, datetime) else float(run_at)
        if ts != ts or ts <= 0:
            raise ValidationError("run_at must be a positive time", field="run_at")
        if ts - time.time() > MAX_SCHEDULE_AHEAD_S:
            raise ValidationError("run_at is more than 366 days ahead", field="run_at")
        return 0, round(ts * 1000)
    return 0, 0


# -- job control helpers (issue 3) -------------------------------------------------------------

_EVENT_ID = re.compile(r"\d+(-\d+)?")


def _budget(limit: int) -> int:
    """Index entries one page may examine at most: its cost stays bounded when a filter
    matches rarely (the page then holds fewer jobs, with a cursor to go on)."""
    return max(10 * limit, 1000)


def _chunk(limit: int) -> int:
    return min(max(limit + 1, 50), 500)


def _window(
    since: datetime | float | None, until: datetime | float | None
) -> tuple[int | None, int | None]:
    since_ms, until_ms = to_ms(since, "since"), to_ms(until, "until")
    if since_ms is not None and until_ms is not None and since_ms > until_ms:
        raise ValidationError("since must not be after until", field="since")
    return since_ms, until_ms


def _dead_letter(queue: str, entry_id: str, fields: dict[bytes, bytes]) -> DeadLetter:
    def text(name: bytes) -> str:
        return fields.get(name, b"").decode()

    error_type, error = text(b"error_type"), text(b"error")
    return DeadLetter(
        job_id=text(b"job"),
        queue=queue,
        type=text(b"type"),
        reason=text(b"reason"),
        error_type=error_type,
        error=error,
        fingerprint=error_fingerprint(error_type, error),
        attempt=int(text(b"attempt") or 0),
        failed_at=datetime.fromtimestamp(int(text(b"time") or 0) / 1000, tz=UTC),
        entry_id=entry_id,
    )
