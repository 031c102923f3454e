"""The figure the KEDA ScaledObject scales on (`services/k8s/worker-scaledobject.yaml`): the
sum of `XLEN` over a queue's priority streams. A worker acknowledges and deletes each entry
as its job finishes, in whatever order jobs finish, so that sum stays equal to the jobs
waiting plus the jobs in flight. The consumer group's `lag`, which KEDA's `lagCount` mode
reads, does not survive out-of-order deletions: Redis reports it as nil."""

from __future__ import annotations

from collections.abc import Callable

import anyio
from redis.asyncio import Redis

from streamq import App, Settings
from streamq.keys import QueueKeys
from streamq.shards import Layout
from streamq.shards import id_shard as shard_of
from tests.support.nodes import running_node

JOBS = 24
CONCURRENCY = 6


async def _figures(
    redis: Redis, app: App, ids: list[str], shards: int = 1
) -> tuple[int, int, int]:
    """(sum of XLEN over every priority stream of every shard, jobs queued, jobs
    processing), read from Redis and the records."""
    streams = [s for name in Layout(shards).names("default")
               for s in QueueKeys("streamq", name).streams]
    xlen = sum([int(await redis.xlen(s)) for s in streams])
    jobs = [await app.get_job(j) for j in ids]
    queued = sum(1 for j in jobs if j is not None and j.status == "queued")
    running = sum(1 for j in jobs if j is not None and j.status == "processing")
    return xlen, queued, running


async def test_stream_length_is_waiting_plus_in_flight_when_jobs_finish_out_of_order(
    app: App, redis_client: Redis
) -> None:
    await _check_out_of_order(app, redis_client, shards=1)


async def test_the_same_holds_summed_over_the_shards_of_a_sharded_queue(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    """The figure of `services/k8s/examples/worker-scaledobject-sharded.yaml`."""
    async with App(settings_for(shards=3)) as sharded:
        await _check_out_of_order(sharded, redis_client, shards=3)


async def _check_out_of_order(app: App, redis_client: Redis, shards: int) -> None:
    release = {n: anyio.Event() for n in range(JOBS)}
    started: list[int] = []

    @app.task("hold", max_retries=0)
    async def hold(n: int) -> int:
        started.append(n)
        await release[n].wait()
        return n

    ids = [await app.enqueue("hold", {"n": n}, priority=("high", "normal", "low")[n % 3])
           for n in range(JOBS)]
    assert await _figures(redis_client, app, ids, shards) == (JOBS, JOBS, 0)
    if shards > 1:  # the jobs are spread: every shard holds some
        assert {shard_of(j) for j in ids} == set(range(shards))
    async with running_node(app, concurrency=CONCURRENCY):
        finished = 0
        while finished < JOBS:
            with anyio.fail_after(10):  # the node fills its free slots
                while len(started) < min(JOBS, finished + CONCURRENCY):
                    await anyio.sleep(0.01)
            await anyio.sleep(0.05)
            xlen, queued, running = await _figures(redis_client, app, ids, shards)
            assert xlen == queued + running, (xlen, queued, running)
            if shards == 1:
                assert running == min(CONCURRENCY, JOBS - finished)
            else:  # each shard's fetcher starts up to the free slots: more wait their turn
                assert min(CONCURRENCY, JOBS - finished) <= running <= shards * CONCURRENCY
            # finish the newest running job first: acknowledgements out of order
            newest = max(n for n in started if not release[n].is_set())
            release[newest].set()
            finished += 1
            assert (await app.wait_for(ids[newest], timeout_s=10)).status == "succeeded"
    assert await _figures(redis_client, app, ids, shards) == (0, 0, 0)


async def test_the_group_lag_is_nil_after_an_out_of_order_ack_and_xlen_is_not(
    app: App, redis_client: Redis
) -> None:
    """The newest delivered job finishes before older ones, and nothing is read after it
    (here the queue is paused; equally, the last worker stopped or crashed): Redis can no
    longer count the group's lag and reports nil, which KEDA's lagCount mode reads as -1,
    an idle queue, with jobs waiting. XLEN still counts them."""
    release = {n: anyio.Event() for n in range(12)}
    started: list[int] = []

    @app.task("hold", max_retries=0)
    async def hold(n: int) -> int:
        started.append(n)
        await release[n].wait()
        return n

    ids = [await app.enqueue("hold", {"n": n}) for n in range(12)]
    stream = QueueKeys("streamq", "default").stream("normal")

    async def lag() -> object:
        groups = await redis_client.xinfo_groups(stream)
        return next(g["lag"] for g in groups if g["name"] == b"workers")

    async with running_node(app, concurrency=4):
        with anyio.fail_after(10):
            while len(started) < 4:
                await anyio.sleep(0.01)
        assert await lag() == 8
        await app.pause()
        release[started[-1]].set()
        await app.wait_for(ids[started[-1]], timeout_s=10)
        assert await lag() is None
        assert await _figures(redis_client, app, ids) == (11, 8, 3)
        await app.resume()
        for event in release.values():
            event.set()
        for job_id in ids:
            await app.wait_for(job_id, timeout_s=10)
    assert await _figures(redis_client, app, ids) == (0, 0, 0)
