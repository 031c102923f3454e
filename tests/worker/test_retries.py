"""Retries, backoff, Retry/Fail signals, timeouts, sync handlers and the dead-letter queue."""

from __future__ import annotations

import itertools
import threading
import time

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, Backoff, Context, Fail, JobStatus, Retry
from tests.support.nodes import running_node


async def test_always_failing_job_is_dead_lettered_after_max_retries_plus_one(
    app: App, redis_client: Redis
) -> None:
    starts: list[float] = []

    @app.task("boom", max_retries=3, retry_backoff=Backoff(0.1, 5.0, jitter="equal"))
    async def boom() -> None:
        starts.append(time.monotonic())
        raise ValueError("no luck")

    job_id = await app.enqueue("boom")
    async with running_node(app, concurrency=2):
        job = await app.wait_for(job_id, timeout_s=10)
    assert job.status is JobStatus.FAILED
    assert job.attempt == 4 and len(starts) == 4
    assert job.error_type == "ValueError" and job.error == "no luck"
    assert job.reason == "retries exhausted"
    assert "ValueError: no luck" in (job.traceback or "")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # equal jitter: attempt n waits in [c/2, c] with c = 0.1 * 2**(n-1): strictly growing
    assert gaps == sorted(gaps), gaps
    for n, gap in enumerate(gaps, start=1):
        ceiling = 0.1 * 2 ** (n - 1)
        assert ceiling / 2 - 0.01 <= gap <= ceiling + 0.25, (n, gap)
    dead = await redis_client.xrange("streamq:{default}:dead")
    assert len(dead) == 1
    fields = dead[0][1]
    assert fields[b"job"] == job_id.encode()
    assert fields[b"reason"] == b"retries exhausted"
    assert fields[b"error_type"] == b"ValueError"


async def test_full_jitter_gaps_stay_below_the_exponential_ceiling(app: App) -> None:
    starts: list[float] = []

    @app.task("boom", max_retries=4, retry_backoff=Backoff(0.08, 5.0))
    async def boom() -> None:
        starts.append(time.monotonic())
        raise RuntimeError("again")

    job_id = await app.enqueue("boom")
    async with running_node(app):
        job = await app.wait_for(job_id, timeout_s=10)
    assert job.status is JobStatus.FAILED and len(starts) == 5
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    for n, gap in enumerate(gaps, start=1):
        assert gap <= 0.08 * 2 ** (n - 1) + 0.25, (n, gap)


async def test_flaky_job_succeeds_on_its_second_attempt(app: App) -> None:
    @app.task("flaky", max_retries=2, retry_backoff=0.05)
    async def flaky(ctx_attempts: list[int] | None = None) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("transient")
        return "ok"

    calls: list[int] = []
    job_id = await app.enqueue("flaky")
    async with running_node(app):
        job = await app.wait_for(job_id, timeout_s=10)
    assert job.status is JobStatus.SUCCEEDED
    assert job.result == "ok" and job.attempt == 2 and len(calls) == 2
    assert job.error_type == "ConnectionError"  # the last failure stays on the record


async def test_retry_signal_chooses_the_delay(app: App) -> None:
    starts: list[float] = []

    @app.task("later", max_retries=1)
    async def later() -> str:
        starts.append(time.monotonic())
        if len(starts) == 1:
            raise Retry(delay=0.6)
        return "done"

    job_id = await app.enqueue("later")
    async with running_node(app):
        job = await app.wait_for(job_id, timeout_s=10)
    assert job.status is JobStatus.SUCCEEDED and job.attempt == 2
    assert 0.55 <= starts[1] - starts[0] <= 1.0


async def test_fail_signal_and_fail_on_skip_the_retries(app: App) -> None:
    class PermanentError(Exception):
        pass

    @app.task("refuse", max_retries=5)
    async def refuse() -> None:
        raise Fail("account closed")

    @app.task("permanent", max_retries=5, fail_on=[PermanentError])
    async def permanent() -> None:
        raise PermanentError("bad input")

    a = await app.enqueue("refuse")
    b = await app.enqueue("permanent")
    async with running_node(app):
        ja = await app.wait_for(a, timeout_s=10)
        jb = await app.wait_for(b, timeout_s=10)
    assert (ja.status, ja.attempt, ja.reason) == (JobStatus.FAILED, 1, "account closed")
    assert (jb.status, jb.attempt, jb.reason) == (JobStatus.FAILED, 1, "non-retryable error")
    assert jb.error_type == "PermanentError"


async def test_timed_out_attempt_counts_as_a_failure(app: App) -> None:
    @app.task("slow", max_retries=1, timeout=0.2, retry_backoff=0.05)
    async def slow() -> None:
        await anyio.sleep(10)

    job_id = await app.enqueue("slow")
    started = time.monotonic()
    async with running_node(app):
        job = await app.wait_for(job_id, timeout_s=10)
    assert job.status is JobStatus.FAILED and job.attempt == 2
    assert job.error_type == "TimeoutError"
    assert time.monotonic() - started < 3


async def test_per_job_timeout_overrides_the_task(app: App) -> None:
    @app.task("slow", max_retries=0, timeout=30)
    async def slow() -> None:
        await anyio.sleep(10)

    job_id = await app.enqueue("slow", timeout=0.2)
    async with running_node(app):
        job = await app.wait_for(job_id, timeout_s=5)
    assert job.status is JobStatus.FAILED and job.reason == "timeout"
    assert job.error_type == "TimeoutError" and job.timeout_s == 0.2


async def test_per_job_max_retries_overrides_the_task(app: App) -> None:
    @app.task("boom", max_retries=5, retry_backoff=0.02)
    async def boom() -> None:
        raise ValueError("x")

    job_id = await app.enqueue("boom", max_retries=1)
    async with running_node(app):
        job = await app.wait_for(job_id, timeout_s=10)
    assert job.status is JobStatus.FAILED and job.attempt == 2


async def test_sync_handler_runs_in_a_worker_thread(app: App) -> None:
    threads: list[int] = []

    @app.task("blocking")
    def blocking(n: int) -> int:
        threads.append(threading.get_ident())
        time.sleep(0.05)
        return n * 2

    ids = [await app.enqueue("blocking", {"n": i}) for i in range(4)]
    async with running_node(app):
        jobs = [await app.wait_for(i, timeout_s=10) for i in ids]
    assert [j.result for j in jobs] == [0, 2, 4, 6]
    assert threading.get_ident() not in threads


async def test_unknown_task_met_by_a_worker_is_dead_lettered(
    app: App, settings_for: object, redis_client: Redis
) -> None:
    @app.task("known")
    async def known() -> None:
        return None

    producer = App(app.settings)  # no tasks registered: any type is accepted
    try:
        job_id = await producer.enqueue("nobody.handles.this", {"x": 1})
    finally:
        await producer.close()
    async with running_node(app):
        job = await app.wait_for(job_id, timeout_s=10)
    assert job.status is JobStatus.FAILED and job.reason == "unknown task"
    dead = await redis_client.xrange("streamq:{default}:dead")
    assert dead[0][1][b"reason"] == b"unknown task"


async def test_result_that_is_not_json_fails_the_job(app: App) -> None:
    @app.task("weird", max_retries=0)
    async def weird() -> object:
        return object()

    job_id = await app.enqueue("weird")
    async with running_node(app):
        job = await app.wait_for(job_id, timeout_s=10)
    assert job.status is JobStatus.FAILED and job.reason == "result not serialisable"


@pytest.mark.parametrize("handler_kind", ["async", "sync"])
async def test_context_tells_job_id_attempt_and_deadline(app: App, handler_kind: str) -> None:
    seen: dict[str, object] = {}

    if handler_kind == "async":

        @app.task("ctx", timeout=7)
        async def with_ctx(x: int, ctx: Context) -> int:
            seen.update(id=ctx.job_id, attempt=ctx.attempt, left=ctx.time_left_s)
            ctx.log.info("running")
            return x

    else:

        @app.task("ctx", timeout=7)
        def with_ctx_sync(x: int, ctx: Context) -> int:
            seen.update(id=ctx.job_id, attempt=ctx.attempt, left=ctx.time_left_s)
            return x

    job_id = await app.enqueue("ctx", {"x": 5})
    async with running_node(app):
        job = await app.wait_for(job_id, timeout_s=10)
    assert job.result == 5
    assert seen["id"] == job_id and seen["attempt"] == 1
    assert 6 < float(seen["left"]) <= 7  # type: ignore[arg-type]
