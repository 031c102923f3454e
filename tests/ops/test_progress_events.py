"""Progress on the job record; every state change in the capped events stream; watch()."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, Context, JobRequest, Settings, ValidationError
from streamq.job import Event
from tests.support.nodes import running_node


async def test_progress_is_visible_through_get_job(app: App) -> None:
    halfway = anyio.Event()
    go_on = anyio.Event()

    @app.task("p")
    async def p(ctx: Context) -> str:
        await ctx.progress(0.4, message="copying")
        halfway.set()
        await go_on.wait()
        return "ok"

    job_id = await app.enqueue("p")
    async with running_node(app, concurrency=1):
        with anyio.fail_after(5):
            await halfway.wait()
        job = await app.get_job(job_id)
        assert (job.status, job.progress, job.progress_message) == ("processing", 0.4, "copying")
        go_on.set()
        await app.wait_for(job_id, timeout_s=5)


async def test_progress_out_of_range_fails_the_handler_call(app: App) -> None:
    @app.task("p", max_retries=0)
    async def p(ctx: Context) -> None:
        await ctx.progress(1.5)

    job_id = await app.enqueue("p")
    async with running_node(app, concurrency=1):
        job = await app.wait_for(job_id, timeout_s=5)
    assert (job.status, job.error_type) == ("failed", "ValueError")
    assert job.progress is None


async def collect(app: App, n: int, **kw: object) -> list[Event]:
    out: list[Event] = []
    async for event in app.watch(**kw):  # type: ignore[arg-type]
        out.append(event)
        if len(out) == n:
            break
    return out


async def test_watch_yields_every_state_change_of_a_job(app: App) -> None:
    @app.task("flaky", max_retries=1, retry_backoff=0.01)
    async def flaky(ctx: Context) -> str:
        if ctx.attempt == 1:
            raise RuntimeError("first time")
        return "ok"

    seen: list[Event] = []
    job_id = ""
    async with running_node(app, concurrency=1) as node:
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                seen.extend(await collect(app, 6, job_id=None, since="0"))

            tg.start_soon(watch)
            job_id = await app.enqueue("flaky")
            with anyio.fail_after(10):
                while len(seen) < 6:
                    await anyio.sleep(0.02)
        assert node.name
    steps = [(e.from_status, e.to_status, e.attempt) for e in seen]
    assert steps == [
        (None, "queued", 1),
        ("queued", "processing", 1),
        ("processing", "retrying", 1),
        ("retrying", "queued", 2),
        ("queued", "processing", 2),
        ("processing", "succeeded", 2),
    ]
    assert all(e.job_id == job_id and e.queue == "default" for e in seen)
    assert seen[1].worker == node.name
    assert seen[0].time.tzinfo is not None


async def test_watch_filters_one_job_and_starts_at_the_tail(app: App) -> None:
    old = await app.enqueue("x")
    async with anyio.create_task_group() as tg:
        got: list[Event] = []

        async def watch() -> None:
            got.extend(await collect(app, 2, job_id=old))

        tg.start_soon(watch)
        await anyio.sleep(0.1)  # the watch has read the tail by now
        await app.enqueue("x")
        await app.cancel(old)
        await app.retry(old)
        with anyio.fail_after(5):
            while len(got) < 2:
                await anyio.sleep(0.02)
    assert [(e.from_status, e.to_status) for e in got] == [
        ("queued", "cancelled"), ("cancelled", "queued"),
    ]


async def test_events_stream_is_capped(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    async with App(settings_for(events_max_entries=30)) as app:
        for _ in range(20):  # 1,000 changes in 100 entries of ten
            await app.enqueue_many([JobRequest("x") for _ in range(50)])
        # trimmed approximately (whole stream nodes of about nine such entries)
        assert await redis_client.xlen(app.store.keys("default").events) <= 60


async def test_watch_refuses_a_bad_since(app: App) -> None:
    with pytest.raises(ValidationError):
        await collect(app, 1, since="yesterday")
