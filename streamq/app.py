"""App: the task registry and the producer/inspector facade over the store."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import orjson
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import (
    BackendUnavailable,
    InvalidTransition,
    JobNotFound,
    PayloadTooLarge,
    UnknownTaskType,
    ValidationError,
)
from .ids import new_job_id
from .job import Job, JobStatus, Priority
from .policy import Backoff
from .settings import Settings
from .store import EnqueueResult, EnqueueSpec, Store
from .task import Task, TaskOptions

P = ParamSpec("P")
R = TypeVar("R")

MAX_SCHEDULE_AHEAD_S = 366 * 86_400
MAX_IDEMPOTENCY_KEY_LEN = 256
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


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
            s = self.settings
            self._redis = Redis.from_url(
                s.redis_url or DEFAULT_REDIS_URL,
                socket_timeout=s.redis_timeout_s,
                socket_connect_timeout=s.redis_timeout_s,
                health_check_interval=30,
            )
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
        return await self._call(self.store.enqueue(specs))

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
        code, status = await self._call(self.store.requeue(job.queue, job_id))
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

    async def _call(self, coro: Awaitable[R]) -> R:
        """Turn Redis connection failures into BackendUnavailable."""
        try:
            return await coro
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BackendUnavailable(f"Redis is unavailable: {exc}") from exc


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
