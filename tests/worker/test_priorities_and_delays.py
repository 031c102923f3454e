"""Strict and weighted priority fetching; delayed jobs start on time, never early."""

from __future__ import annotations

import time
from collections import Counter

import anyio
from redis.asyncio import Redis

from streamq import App, JobRequest, JobStatus
from tests.support.nodes import running_node


async def _backlog(app: App, per_level: int) -> None:
    await app.enqueue_many(
        [
            JobRequest("work", {"level": level}, priority=level)
            for level in ("low", "normal", "high")
            for _ in range(per_level)
        ]
    )


async def test_strict_mode_drains_high_before_normal_before_low(app: App) -> None:
    order: list[str] = []

    @app.task("work")
    async def work(level: str) -> None:
        order.append(level)

    await _backlog(app, 30)
    async with running_node(app, concurrency=1):
        with anyio.fail_after(10):
            while len(order) < 90:
                await anyio.sleep(0.02)
    assert order == ["high"] * 30 + ["normal"] * 30 + ["low"] * 30


async def test_weighted_mode_gives_every_level_its_share(app: App) -> None:
    order: list[str] = []

    @app.task("work")
    async def work(level: str) -> None:
        order.append(level)

    await _backlog(app, 200)
    weights = {"high": 6, "normal": 3, "low": 1}
    async with running_node(app, concurrency=1, priority_weights=weights):
        with anyio.fail_after(20):
            while len(order) < 200:
                await anyio.sleep(0.02)
    first = Counter(order[:200])
    # Expected shares 120/60/20; low must not starve while high still has a backlog.
    assert 85 <= first["high"] <= 150, first
    assert 35 <= first["normal"] <= 85, first
    assert 8 <= first["low"] <= 40, first


async def test_medium_is_an_alias_of_normal(app: App, redis_client: Redis) -> None:
    job_id = await app.enqueue("anything", {}, priority="medium")
    job = await app.get_job(job_id)
    assert job.priority == "normal"
    assert await redis_client.xlen("streamq:{default}:stream:normal") == 1


async def test_delayed_job_never_starts_early_and_starts_within_100_ms(app: App) -> None:
    started: dict[int, float] = {}

    @app.task("tick")
    async def tick(n: int) -> None:
        started[n] = time.time()

    async with running_node(app, concurrency=10):
        await anyio.sleep(0.3)  # an idle node: the scheduler sleeps until woken
        due: dict[int, float] = {}
        for n, delay in enumerate((0.4, 0.9, 1.5, 0.2)):
            job_id = await app.enqueue("tick", {"n": n}, delay=delay)
            due[n] = (await app.get_job(job_id)).scheduled_at.timestamp()  # type: ignore[union-attr]
        with anyio.fail_after(5):
            while len(started) < 4:
                await anyio.sleep(0.01)
    for n, at in due.items():
        lateness = started[n] - at
        assert -0.002 <= lateness <= 0.1, (n, lateness)


async def test_run_at_in_the_past_runs_at_once(app: App) -> None:
    @app.task("now")
    async def now() -> str:
        return "ran"

    job_id = await app.enqueue("now", run_at=time.time() - 60)
    assert (await app.get_job(job_id)).status is JobStatus.QUEUED
    async with running_node(app):
        assert (await app.wait_for(job_id, timeout_s=5)).result == "ran"


async def test_xinfo_groups_shows_backlog_as_lag_and_in_flight_as_pending(
    app: App, redis_client: Redis
) -> None:
    release = anyio.Event()

    @app.task("hold")
    async def hold() -> None:
        await release.wait()

    await app.enqueue_many([JobRequest("hold") for _ in range(10)])
    stream = "streamq:{default}:stream:normal"
    async with running_node(app, concurrency=3):
        with anyio.fail_after(5):
            while True:
                groups = await redis_client.xinfo_groups(stream)
                if groups and groups[0]["pending"] == 3:
                    break
                await anyio.sleep(0.02)
        group = groups[0]
        assert group["name"] == b"workers"
        assert group["lag"] == 7
        consumers = await redis_client.xinfo_consumers(stream, "workers")
        assert sum(c["pending"] for c in consumers) == 3
        release.set()
        with anyio.fail_after(5):
            while (await redis_client.xinfo_groups(stream))[0]["pending"]:
                await anyio.sleep(0.02)
    info = await redis_client.xinfo_stream(stream)
    assert info["length"] == 0  # acknowledged entries are deleted, not kept
