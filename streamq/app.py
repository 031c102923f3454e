"""App: settings, the task and cron registry, the connection; every operation a short
delegation to the module of its concern (`requests`, `ops.*`), each given the Store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from .connection import Client, connect
from .cron import CronJob
from .errors import StreamqError
from .job import DeadLetterPage, Event, Job, JobPage
from .ops import dlq, jobs, listing, produce, shards_in_scope
from .ops import queues as queue_ops
from .registry import Registry
from .requests import JobRequest, build_spec
from .settings import Settings
from .stats import QueueStats
from .store import EnqueueResult, EnqueueSpec, Store
from .task import Task

if TYPE_CHECKING:
    from .history import HistoryArchive, HistoryPage
    from .sync import SyncClient
    from .tracing.spans import Tracing

P = ParamSpec("P")
R = TypeVar("R")


class App:
    """Tasks are declared on an App; producers enqueue through it, workers run its tasks."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        base = settings or Settings()
        self.settings = base.model_copy(update=overrides) if overrides else base
        self.registry = Registry(self.settings)
        self._redis: Client | None = None
        self._store: Store | None = None
        self._history: HistoryArchive | None = None
        self.tracing: Tracing | None = None  # set by streamq.tracing.enable()
        if self.settings.otel:
            from .tracing import enable

            enable(self)

    # -- declaration -------------------------------------------------------------------------

    def task(
        self, name: str | None = None, **options: Any
    ) -> Callable[[Callable[P, R]], Task[P, R]]:
        """Register a handler (async or plain) under `name` (default: module.qualname); the
        options (queue, priority, max_retries, timeout, retry_backoff, fail_on,
        concurrency) are those of `Registry.task`."""
        return self.registry.task(name, **options)

    def cron(self, expr: str, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]:
        """Register a handler as a task fired at every tick of `expr` (see Registry.cron)."""
        return self.registry.cron(expr, **options)

    def add_cron(self, expr: str, type: str | Task[Any, Any], **options: Any) -> CronJob:
        """Fire jobs of a registered task at every tick of `expr` (see Registry.add_cron)."""
        return self.registry.add_cron(expr, type, **options)

    @property
    def tasks(self) -> dict[str, Task[Any, Any]]:
        return self.registry.tasks

    @property
    def crons(self) -> dict[str, CronJob]:
        return self.registry.crons

    @property
    def queues(self) -> list[str]:
        """Every queue this app knows: the default one and those its tasks name."""
        return self.registry.queues

    # -- connection --------------------------------------------------------------------------

    @property
    def redis(self) -> Client:
        if self._redis is None:
            self._redis = connect(self.settings)
        return self._redis

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.redis, self.settings)
        return self._store

    @property
    def history_archive(self) -> HistoryArchive | None:
        """The job history archive, when `history_url` is set (connects on first use)."""
        if self._history is None and self.settings.history_url:
            from .history import HistoryArchive

            self._history = HistoryArchive(
                self.settings.history_url, self.settings.history_retention_days
            )
        return self._history

    async def close(self) -> None:
        if self._history is not None:
            await self._history.close()
            self._history = None
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
        partition_key: str | None = None,
    ) -> str:
        """Validate and store one job; returns its id (the existing one on a key replay).
        On a sharded queue, jobs of one `partition_key` share a shard (and its order)."""
        request = JobRequest(
            type, payload, priority, delay, run_at, max_retries, timeout, idempotency_key, queue,
            partition_key,
        )
        return (await self.enqueue_many([request]))[0].job_id

    async def enqueue_many(self, requests: Iterable[JobRequest]) -> list[EnqueueResult]:
        """Validate every job first, then store them all in one round trip; raises the
        first refusal (the jobs before it are stored)."""
        specs = [self.build_spec(r) for r in requests]
        return await produce.write(specs, self.store.enqueue, self.tracing, self.tasks)

    async def enqueue_each(
        self, requests: Iterable[JobRequest]
    ) -> list[EnqueueResult | StreamqError]:
        """Validate every job first (any invalid one raises, nothing is stored), then store
        them in one round trip; a refused job gets its error in its place."""
        specs = [self.build_spec(r) for r in requests]
        return await produce.write(specs, self.store.enqueue_each, self.tracing, self.tasks)

    def build_spec(self, request: JobRequest) -> EnqueueSpec:
        """Check one request and turn it into what the store writes; raises, stores nothing."""
        return build_spec(self.registry, request)

    def sync(self) -> SyncClient:
        """This process's blocking client of the app, for code outside asyncio (threads,
        Django, Flask, scripts): see `streamq.sync`."""
        from .sync import shared_client

        return shared_client(self)

    def enqueue_sync(self, type: str, payload: dict[str, Any] | None = None,
                     **options: Any) -> str:
        """`enqueue` for code outside asyncio: blocks the calling thread until stored."""
        return self.sync().enqueue(type, payload, **options)

    async def get_job(self, job_id: str) -> Job:
        """The job's record; once Redis has forgotten it, its last archived state (`source`
        "history") when a history archive is configured; JobNotFound when neither has it."""
        if self.history_archive is None:
            return await jobs.get_job(self.store, self.queues, job_id)
        from .history import get_job

        return await get_job(self.store, self.queues, self.history_archive, job_id)

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job that has not finished; a running handler is stopped on its node."""
        return await jobs.cancel(self.store, self.queues, job_id)

    async def retry(self, job_id: str) -> Job:
        """Run a failed or cancelled job again under the same id with a fresh budget."""
        return await jobs.retry(self.store, self.queues, job_id)

    async def wait_for(self, job_id: str, timeout_s: float = 30.0) -> Job:
        """The job once it has succeeded, failed or been cancelled, woken by its events
        (no polling); raises TimeoutError after timeout_s, JobNotFound for an unknown id."""
        return await jobs.wait_for(self.store, self.queues, job_id, timeout_s, self._block_ms)

    async def list_jobs(
        self,
        status: str | None = None,
        type: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        """Jobs newest first, one page at a time (see `streamq.ops.listing`)."""
        return await listing.list_jobs(self.store, self.queues, status, type, queue, limit,
                                       cursor)

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
        which = dlq.Filter(self.registry.layout, self.queues, queue, type, fingerprint, since,
                           until)
        return await dlq.list_page(self.store, which, limit, cursor)

    async def dlq_retry(self, job_id: str) -> Job:
        """Requeue one dead-lettered job under the same id with a fresh attempt budget."""
        await dlq.retry_one(self.store, await self.get_job(job_id))
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
        which = dlq.Filter(self.registry.layout, self.queues, queue, type, fingerprint, since,
                           until)
        return await dlq.requeue_matching(self.store, which)

    async def dlq_delete(self, job_id: str) -> None:
        """Remove a job's dead-letter entry and forget the job; JobNotFound if not there."""
        await dlq.delete_one(self.store, await self.get_job(job_id))

    async def dlq_purge(self, queue: str | None = None) -> int:
        """Remove every dead-letter entry of the queue (default: all the app's queues) and
        forget their jobs; returns how many failed jobs were removed."""
        return await dlq.purge(self.store, self._shards(queue))

    async def history(
        self, *, limit: int = 50, cursor: str | None = None, **filters: Any
    ) -> HistoryPage:
        """Archived jobs, newest finished first (see `streamq.history`). Filters: status,
        type, queue, since, until, error_type, fingerprint, and `payload`, a mapping of a
        dotted path to a value: {"customer.id": "1234"} finds payloads holding it there.
        Raises HistoryUnavailable without an archive configured or reachable."""
        from .history import build_filter, history_page

        return await history_page(self.history_archive, build_filter(**filters), limit, cursor)

    # -- queues ------------------------------------------------------------------------------

    async def pause(self, queue: str | None = None, priority: str | None = None) -> None:
        """Stop fetching from a queue (default: the app's default queue), or from one of its
        priorities, on every node within a second. Enqueueing still works."""
        await queue_ops.set_paused(self.store, self.queues, self._queue(queue),
                                   priority, True)

    async def resume(self, queue: str | None = None, priority: str | None = None) -> None:
        """Undo `pause` for the queue, or for one priority; fetching continues where it was."""
        await queue_ops.set_paused(self.store, self.queues, self._queue(queue),
                                   priority, False)

    async def paused(self, queue: str | None = None) -> list[str]:
        """The paused priorities of a queue (all three when the whole queue is paused)."""
        return await queue_ops.paused(self.store, self.queues, self._queue(queue))

    def _queue(self, queue: str | None) -> str:
        return self.settings.queue if queue is None else queue

    def _shards(self, queue: str | None) -> list[str]:
        """Every shard of the queue named, or of every queue of the app."""
        return shards_in_scope(self.registry.layout, self.queues, queue)

    async def queue_stats(self, queues: Sequence[str] | None = None) -> list[QueueStats]:
        """Each queue's streams, scheduled, dead and workers, in one round trip
        (default: every queue of the app)."""
        return await queue_ops.stats(self.store, self.queues if queues is None else queues)

    def watch(
        self, job_id: str | None = None, queue: str | None = None, since: str | None = None
    ) -> AsyncIterator[Event]:
        """Yield state changes as they happen (of one job, or of all), from the queue's
        events stream (default: every queue of the app). `since`: an event id to start
        after ('0' for all retained events); default: only events after the first read.
        The changes of one batch share an entry and its id: resuming after an id skips
        every change of that entry."""
        return queue_ops.watch(self.store, self._shards(queue), job_id, since,
                               self._block_ms)

    @property
    def _block_ms(self) -> int:
        """How long a blocking read of events waits: well inside the socket timeout."""
        return max(10, min(1000, int(self.settings.redis_timeout_s * 500)))

    async def ping(self) -> None:
        """Raise BackendUnavailable unless Redis answers."""
        await self.store.ping()
