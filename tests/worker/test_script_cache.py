"""Scripts are sent by SHA only; after Redis forgets them (restart, SCRIPT FLUSH) the
store loads them again and re-sends only the refused calls, none of which had run."""

from __future__ import annotations

from redis.asyncio import Redis

from streamq import App, JobRequest, JobStatus
from tests.support.nodes import running_node


async def test_batches_survive_a_script_flush_and_run_exactly_once(
    app: App, redis_client: Redis
) -> None:
    runs: list[int] = []

    @app.task("count")
    async def count(n: int) -> int:
        runs.append(n)
        return n

    await app.enqueue("count", {"n": -1})
    await redis_client.script_flush()
    results = await app.enqueue_many([JobRequest("count", {"n": i}) for i in range(50)])
    assert all(r.created for r in results)
    assert await redis_client.xlen("streamq:{default}:stream:normal") == 51
    async with running_node(app):
        await redis_client.script_flush()  # again, while the node starts and finishes jobs
        for r in results:
            assert (await app.wait_for(r.job_id, timeout_s=10)).status is JobStatus.SUCCEEDED
    assert sorted(runs) == [-1, *range(50)]


async def test_a_pipeline_of_scripts_is_one_round_trip(app: App, redis_client: Redis) -> None:
    await app.enqueue("warm", {})
    before = (await redis_client.info("commandstats")).get("cmdstat_script|exists", {})
    await app.enqueue_many([JobRequest("warm", {}) for _ in range(20)])
    await app.enqueue("warm", {})
    after = (await redis_client.info("commandstats")).get("cmdstat_script|exists", {})
    assert before.get("calls", 0) == after.get("calls", 0), "no SCRIPT EXISTS before a batch"


async def test_one_enqueue_is_one_command_and_survives_a_script_flush(
    app: App, redis_client: Redis
) -> None:
    """One job at a time is one EVALSHA (no pipeline, no SCRIPT EXISTS); after a flush,
    redis-py loads the script and the job is written once."""
    await app.enqueue("warm", {})
    await redis_client.config_resetstat()
    for _ in range(10):
        await app.enqueue("warm", {})
    stats = await redis_client.info("commandstats")
    client_calls = {k: v["calls"] for k, v in stats.items()
                    if k in ("cmdstat_evalsha", "cmdstat_script|exists", "cmdstat_script|load")}
    assert client_calls == {"cmdstat_evalsha": 10}
    await redis_client.script_flush()
    job_id = await app.enqueue("warm", {})
    assert await redis_client.xlen("streamq:{default}:stream:normal") == 12
    assert (await app.get_job(job_id)).status is JobStatus.QUEUED
