"""Reclaim, lost workers, deleted entries, group loss, retention and burst mode."""

from __future__ import annotations

import anyio
from redis.asyncio import Redis

from streamq import App, JobRequest, JobStatus
from streamq.worker.reclaimer import Reclaimer
from streamq.worker.state import NodeState, Slots
from tests.support.nodes import running_node

STREAM = "streamq:{default}:stream:normal"


async def _abandon(app: App, redis: Redis, count: int = 1) -> list[str]:
    """Jobs fetched and started by a consumer that then vanished (as after SIGKILL)."""
    ids = [r.job_id for r in await app.enqueue_many([JobRequest("work") for _ in range(count)])]
    store = app.store
    await store.ensure_groups("default")
    fetched = await store.fetch("default", ("high", "normal", "low"), "ghost", count)
    started = await store.start("ghost", fetched.deliveries)
    assert len(started) == count
    return ids


def _reclaimer(app: App, min_idle_ms: int = 0) -> Reclaimer:
    state = NodeState(name="rescuer", slots=Slots(10), lease_s=5)
    return Reclaimer(app.store, state, ["default"], min_idle_ms, 0.1)


async def test_entries_of_a_dead_consumer_are_given_back_and_run(
    app: App, redis_client: Redis
) -> None:
    @app.task("work")
    async def work() -> str:
        return "ok"

    ids = await _abandon(app, redis_client, 3)
    result = await _reclaimer(app).reclaim_once()
    assert (result.requeued, result.dead) == (3, 0)
    for job_id in ids:
        job = await app.get_job(job_id)
        assert job.status is JobStatus.QUEUED and job.lost == 1 and job.attempt == 1
    async with running_node(app):
        for job_id in ids:
            job = await app.wait_for(job_id, timeout_s=5)
            assert job.status is JobStatus.SUCCEEDED and job.run == 2
            assert job.attempt == 1, "a crash does not consume the retry budget"


async def test_job_lost_max_deliveries_times_is_dead_lettered_as_lost_worker(
    app: App, redis_client: Redis
) -> None:
    (job_id,) = await _abandon(app, redis_client)
    reclaimer = _reclaimer(app)
    for _ in range(app.settings.max_deliveries - 1):
        assert (await reclaimer.reclaim_once()).requeued == 1
        fetched = await app.store.fetch("default", ("normal",), "ghost", 1)
        await app.store.start("ghost", fetched.deliveries)
    assert (await reclaimer.reclaim_once()).dead == 1
    job = await app.get_job(job_id)
    assert (job.status, job.reason, job.lost) == (JobStatus.FAILED, "lost worker", 3)
    assert job.attempt == 1, "the retry budget is untouched"
    dead = await redis_client.xrange("streamq:{default}:dead")
    assert dead[-1][1][b"reason"] == b"lost worker"
    assert await redis_client.xlen(STREAM) == 0


async def test_pending_entry_deleted_from_the_stream_is_recovered_from_the_record(
    app: App, redis_client: Redis
) -> None:
    @app.task("work")
    async def work() -> str:
        return "recovered"

    (job_id,) = await _abandon(app, redis_client)
    entry = (await redis_client.xrange(STREAM))[0][0]
    await redis_client.xdel(STREAM, entry)  # e.g. trimmed by an operator while pending
    result = await _reclaimer(app).reclaim_once()
    assert result.deleted_seen == 1 and result.requeued == 1
    async with running_node(app):
        job = await app.wait_for(job_id, timeout_s=5)
    assert job.status is JobStatus.SUCCEEDED and job.result == "recovered"


async def test_live_node_keeps_its_leases_while_a_reclaimer_sweeps(app: App) -> None:
    runs: list[int] = []

    @app.task("long", timeout=30)
    async def long() -> None:
        runs.append(1)
        await anyio.sleep(3.5)

    job_id = await app.enqueue("long")
    # visibility 2 s (fixture settings): the heartbeat must renew it through 3.5 s of work
    async with running_node(app):
        rescuer = _reclaimer(app, min_idle_ms=app.settings.visibility_timeout_ms)
        with anyio.fail_after(10):
            while not (await app.get_job(job_id)).status.terminal:
                assert (await rescuer.reclaim_once()).requeued == 0
                await anyio.sleep(0.2)
    assert runs == [1]
    assert (await app.get_job(job_id)).status is JobStatus.SUCCEEDED


async def test_flushall_mid_run_recreates_the_groups_and_work_resumes(
    app: App, redis_client: Redis
) -> None:
    @app.task("work")
    async def work() -> str:
        return "ok"

    async with running_node(app):
        first = await app.enqueue("work")
        await app.wait_for(first, timeout_s=5)
        await redis_client.flushall()
        await anyio.sleep(0.3)
        second = await app.enqueue("work")
        job = await app.wait_for(second, timeout_s=5)
        assert job.status is JobStatus.SUCCEEDED
        await redis_client.delete(STREAM)  # the stream and its group vanish
        third = await app.enqueue("work")
        assert (await app.wait_for(third, timeout_s=5)).status is JobStatus.SUCCEEDED


async def test_finished_records_expire_after_their_retention(
    app: App, settings_for: object, redis_client: Redis
) -> None:
    short = App(app.settings.model_copy(update={"result_ttl_s": 5, "failed_ttl_s": 50}))

    @short.task("ok")
    async def ok() -> int:
        return 1

    @short.task("bad", max_retries=0)
    async def bad() -> None:
        raise ValueError("no")

    try:
        a, b = await short.enqueue("ok"), await short.enqueue("bad")
        async with running_node(short):
            await short.wait_for(a, timeout_s=5)
            await short.wait_for(b, timeout_s=5)
        ttl_ok = await redis_client.pttl(f"streamq:{{default}}:job:{a}")
        ttl_bad = await redis_client.pttl(f"streamq:{{default}}:job:{b}")
        assert 0 < ttl_ok <= 5000 and 5000 < ttl_bad <= 50_000
    finally:
        await short.close()


async def test_burst_node_exits_once_the_queue_is_empty(app: App) -> None:
    from streamq.worker import Node

    @app.task("work")
    async def work(n: int) -> int:
        return n

    results = await app.enqueue_many([JobRequest("work", {"n": i}) for i in range(50)])
    retry_later = await app.enqueue("work", {"n": 99}, delay=0.5)
    with anyio.fail_after(10):
        code = await Node(app, concurrency=10, burst=True).run()
    assert code == 0
    for r in results:
        assert (await app.get_job(r.job_id)).status is JobStatus.SUCCEEDED
    assert (await app.get_job(retry_later)).status is JobStatus.SUCCEEDED


async def test_burst_node_waits_for_jobs_parked_by_a_concurrency_limit(app: App) -> None:
    """A node that died holding the type's only slot leaves the others parked (not in any
    stream): a burst node must wait for the slot's lease to lapse, not exit."""
    from streamq.worker import Node

    @app.task("limited", concurrency=1)
    async def limited(n: int) -> int:
        return n

    results = await app.enqueue_many([JobRequest("limited", {"n": i}) for i in range(3)])
    store = app.store
    await store.ensure_groups("default")
    fetched = await store.fetch("default", ("normal",), "ghost", 3)
    admitted = await store.admit("default", "normal", "limited", 1, fetched.deliveries)
    assert admitted == [True, False, False]  # one slot taken by the ghost, two parked
    await store.start("ghost", fetched.deliveries[:1])
    with anyio.fail_after(20):
        assert await Node(app, concurrency=10, burst=True).run() == 0
    for r in results:
        assert (await app.get_job(r.job_id)).status is JobStatus.SUCCEEDED
