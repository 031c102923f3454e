"""At low rates a node reads new jobs with blocking reads back to back, without a fetch
script in between for each job; the script still runs often enough that a priority resumed
during steady traffic is read again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, JobStatus, Settings
from tests.support.nodes import running_node


@pytest.fixture
async def app_for(settings_for: Callable[..., Settings]) -> AsyncIterator[Callable[[int], App]]:
    """Apps on the test's Redis with a given fetch_block_ms, closed after the test."""
    apps: list[App] = []

    def make(block_ms: int) -> App:
        apps.append(App(settings_for(fetch_block_ms=block_ms)))
        return apps[-1]

    yield make
    for app in apps:
        await app.close()


async def _fetch_script_runs(redis: Redis) -> int:
    """The fetch script asks HEXISTS of the paused hash once, then once per stream (3);
    pause.lua, the only other script that sends it, does not run in these tests."""
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_hexists", {}).get("calls", 0)) // 4


async def test_jobs_arriving_one_at_a_time_take_no_fetch_script_each(
    app_for: Callable[[int], App], redis_client: Redis,
) -> None:
    app = app_for(2000)
    done: list[int] = []

    @app.task("t")
    async def t(n: int) -> None:
        done.append(n)

    async with running_node(app, concurrency=10):
        await anyio.sleep(0.3)  # idle, blocked on the streams
        before = await _fetch_script_runs(redis_client)
        ids = []
        for n in range(30):
            ids.append(await app.enqueue("t", {"n": n}))
            await anyio.sleep(0.02)
        for job_id in ids:
            assert (await app.wait_for(job_id, timeout_s=5)).status is JobStatus.SUCCEEDED
        runs = await _fetch_script_runs(redis_client) - before
    assert sorted(done) == list(range(30))
    # 30 jobs over about 0.7 s: the script runs once per 2 s window, not once per job
    assert runs <= 3, runs


async def test_a_priority_resumed_during_steady_traffic_is_read_again(
    app_for: Callable[[int], App],
) -> None:
    app = app_for(300)
    done: list[str] = []

    @app.task("t")
    async def t(p: str) -> None:
        done.append(p)

    await app.pause(priority="low")
    low = await app.enqueue("t", {"p": "low"}, priority="low")
    async with running_node(app, concurrency=4):
        async with anyio.create_task_group() as tg:

            async def traffic() -> None:
                while True:  # a normal job every 20 ms: the blocking reads never time out
                    await app.enqueue("t", {"p": "normal"})
                    await anyio.sleep(0.02)

            tg.start_soon(traffic)
            await anyio.sleep(0.5)
            assert (await app.get_job(low)).status is JobStatus.QUEUED
            await app.resume(priority="low")
            job = await app.wait_for(low, timeout_s=3)
            tg.cancel_scope.cancel()
    assert job.status is JobStatus.SUCCEEDED
    assert "low" in done and done.count("normal") > 10


async def test_a_pause_during_steady_traffic_hands_jobs_back_without_spinning(
    app_for: Callable[[int], App], redis_client: Redis,
) -> None:
    app = app_for(2000)
    done: list[int] = []

    @app.task("t")
    async def t(n: int) -> None:
        done.append(n)

    async with running_node(app, concurrency=30):  # reads of 10 a stream: 1 is not full
        for n in range(5):  # on the blocking-read path now
            await app.wait_for(await app.enqueue("t", {"n": n}), timeout_s=5)
        await app.pause(priority="normal")
        before = await redis_client.info("commandstats")
        held = await app.enqueue("t", {"n": 99})
        await anyio.sleep(1.0)
        after = await redis_client.info("commandstats")
        assert (await app.get_job(held)).status is JobStatus.QUEUED
        # a job handed back while paused is not read again and again
        reads = (int(after["cmdstat_xreadgroup"]["calls"])
                 - int(before["cmdstat_xreadgroup"]["calls"]))
        assert reads < 20, reads
        await app.resume(priority="normal")
        assert (await app.wait_for(held, timeout_s=5)).status is JobStatus.SUCCEEDED
    assert sorted(done) == [0, 1, 2, 3, 4, 99]
