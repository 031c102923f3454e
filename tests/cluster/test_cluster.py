"""streamq on a local Redis Cluster (three primaries, three replicas): producing through
the library, the API and the CLI; one worker node running queues that live on different
primaries; listing, dead letters, pause, cancel, statistics and readiness."""

from __future__ import annotations

import json
from collections.abc import Callable

import anyio
import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from streamq import App, BackendUnavailable, Context, Settings
from streamq.api import create_app
from streamq.cli import main
from streamq.keys import QueueKeys
from tests.support.nodes import running_node
from tests.support.topology import LocalCluster

from . import tasks
from .tasks import QUEUES, make_app


def _job_key(queue: str, job_id: str) -> str:
    return QueueKeys("streamq", queue).job(job_id)


def test_the_queues_live_on_three_different_primaries(cluster: LocalCluster) -> None:
    homes = {cluster.primary_of(QueueKeys("streamq", q).stream("normal")).port for q in QUEUES}
    assert len(homes) == 3


async def test_one_node_runs_the_jobs_of_queues_on_every_primary(
    cluster: LocalCluster, cluster_app: App
) -> None:
    ids = {q: [await cluster_app.enqueue(f"{q}.run", {"n": i}) for i in range(5)]
           for q in QUEUES}
    for queue, job_ids in ids.items():  # each job's record is on its queue's primary
        home = cluster.primary_of(QueueKeys("streamq", queue).base)
        with redis.Redis(port=home.port) as direct:
            assert all(direct.exists(_job_key(queue, j)) for j in job_ids)
    async with running_node(cluster_app, concurrency=8):
        for queue, job_ids in ids.items():
            for i, job_id in enumerate(job_ids):
                job = await cluster_app.wait_for(job_id, timeout_s=10)
                assert (job.status, job.result, job.queue) == ("succeeded", i, queue)
    stats = {s.queue: s for s in await cluster_app.queue_stats(list(QUEUES))}
    assert all(s.priorities[1].length == 0 and s.priorities[1].pending == 0
               for s in stats.values())
    listed = await cluster_app.list_jobs(status="succeeded", limit=100)
    assert {j.id for j in listed.jobs} == {j for job_ids in ids.values() for j in job_ids}


async def test_pause_cancel_and_dead_letters_across_primaries(cluster_app: App) -> None:
    await cluster_app.pause("billing")
    held = await cluster_app.enqueue("billing.run", {"n": 1})
    doomed = await cluster_app.enqueue("images.run", {"n": 2, "fail": True})
    cancelled = await cluster_app.enqueue("emails.run", {"n": 3}, delay=60)
    assert (await cluster_app.cancel(cancelled)).status == "cancelled"
    async with running_node(cluster_app, concurrency=4):
        assert (await cluster_app.wait_for(doomed, timeout_s=10)).status == "failed"
        await anyio.sleep(0.5)
        assert (await cluster_app.get_job(held)).status == "queued"  # type: ignore[union-attr]
        assert await cluster_app.paused("billing") == ["high", "normal", "low"]
        await cluster_app.resume("billing")
        assert (await cluster_app.wait_for(held, timeout_s=10)).status == "succeeded"
        dead = await cluster_app.dlq_list()
        assert [e.job_id for e in dead.entries] == [doomed]
        retried = await cluster_app.dlq_retry(doomed)
        # The running node may start (or even finish) it before the record is read back.
        assert retried.status in ("queued", "processing", "failed")
        again = await cluster_app.wait_for(doomed, timeout_s=10)
        assert (again.status, again.run) == ("failed", 2)
    assert (await cluster_app.get_job(cancelled)).status == "cancelled"  # type: ignore[union-attr]


async def test_scripts_are_loaded_again_on_every_primary_after_a_flush(
    cluster: LocalCluster, cluster_app: App
) -> None:
    """A replica promoted by a failover has no scripts (SCRIPT LOAD is not replicated):
    the store loads them on every primary when one answers NOSCRIPT."""
    await cluster_app.enqueue("emails.run", {"n": 0})
    for server in cluster.primaries():
        with redis.Redis(port=server.port) as direct:
            direct.script_flush()
    ids = [await cluster_app.enqueue(f"{q}.run", {"n": 1}) for q in QUEUES]
    async with running_node(cluster_app, concurrency=4):
        for job_id in ids:
            assert (await cluster_app.wait_for(job_id, timeout_s=10)).status == "succeeded"


async def test_watching_queues_on_several_primaries(cluster_app: App) -> None:
    seen: list[str] = []

    async def watch() -> None:
        async for event in cluster_app.watch():
            if event.to_status == "succeeded":
                seen.append(event.queue)
            if len(seen) == len(QUEUES):
                return

    async with running_node(cluster_app, concurrency=4), anyio.create_task_group() as tg:
        tg.start_soon(watch)
        await anyio.sleep(0.3)
        for queue in QUEUES:
            await cluster_app.enqueue(f"{queue}.run", {"n": 0})
        with anyio.fail_after(10):
            while len(seen) < len(QUEUES):
                await anyio.sleep(0.05)
    assert sorted(seen) == sorted(QUEUES)


async def test_the_api_on_a_cluster(
    cluster: LocalCluster, settings_on: Callable[..., Settings]
) -> None:
    app = make_app(settings_on(cluster.url))
    client: TestClient = TestClient(TestServer(create_app(app)))  # type: ignore[type-arg]
    await client.start_server()
    try:
        assert (await client.get("/readyz")).status == 200
        ids = {}
        for queue in QUEUES:
            response = await client.post("/jobs", json={"type": f"{queue}.run",
                                                        "payload": {"n": 7}})
            assert response.status == 202, await response.text()
            ids[queue] = (await response.json())["id"]
        listed = await (await client.get("/jobs?status=queued")).json()
        assert {j["id"] for j in listed["jobs"]} == set(ids.values())
        assert (await client.delete(f"/jobs/{ids['images']}")).status == 200
        assert (await client.post("/queues/billing/pause")).status == 200
        queues = {q["queue"]: q for q in (await (await client.get("/queues")).json())["queues"]}
        assert queues["billing"]["paused"] and not queues["emails"]["paused"]
        async with running_node(app, concurrency=4):
            job = await app.wait_for(ids["emails"], timeout_s=10)
            assert job.status == "succeeded"
            shown = await (await client.get(f"/jobs/{ids['billing']}")).json()
            assert shown["status"] == "queued"
            failing = await client.post("/jobs", json={"type": "emails.run",
                                                       "payload": {"n": 1, "fail": True}})
            failed_id = (await failing.json())["id"]
            assert (await app.wait_for(failed_id, timeout_s=10)).status == "failed"
        dead = await (await client.get("/dlq")).json()
        assert [e["job_id"] for e in dead["entries"]] == [failed_id]
        cancelled = await (await client.get(f"/jobs/{ids['images']}")).json()
        assert cancelled["status"] == "cancelled"
    finally:
        await client.close()
        await app.close()


def test_the_cli_on_a_cluster(
    cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "app", make_app(Settings(redis_url=cluster.url)))
    env: dict[str, str | None] = {"STREAMQ_REDIS_URL": cluster.url,
                                  "STREAMQ_APP": "tests.cluster.tasks:app"}

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    ids = [run("enqueue", f"{q}.run", "--payload", '{"n": 1}').strip() for q in QUEUES]
    assert json.loads(run("job", ids[2], "--json"))["queue"] == "billing"
    listed = json.loads(run("jobs", "--status", "queued", "--json"))
    assert {j["id"] for j in listed["jobs"]} == set(ids)
    run("queue", "pause", "images")
    inspected = json.loads(run("inspect", "--json"))
    assert {q["queue"]: q["paused"] for q in inspected["queues"]}["images"]
    shown = run("inspect", "--queue", "images")
    assert "redis-cli -c -u redis://127.0.0.1:" in shown
    run("check")


async def test_unreachable_seeds_and_a_server_not_in_cluster_mode_are_outages(
    redis_url: str,
) -> None:
    from streamq.devredis import free_port

    nowhere = f"redis+cluster://127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    not_a_cluster = "redis+cluster://" + redis_url.removeprefix("redis://").removesuffix("/0")
    for url, message in ((nowhere, "cannot be connected"), (not_a_cluster, "not in cluster")):
        async with App(Settings(redis_url=url, redis_timeout_s=1.0, fetch_block_ms=500)) as app:
            with pytest.raises(BackendUnavailable, match=message):
                await app.ping()
            with pytest.raises(BackendUnavailable):
                await app.enqueue("any.task", {})


async def test_delays_retries_keys_limits_cancellation_and_cron_on_a_cluster(
    cluster: LocalCluster, settings_on: Callable[..., Settings]
) -> None:
    """Each feature on the queue of another primary: a delayed job promoted, a retry after
    a failure, an idempotency key replayed, a per-type limit held, a running job cancelled
    (over the cluster-wide cancel channel) and a cron fired once per tick."""
    app = App(settings_on(cluster.url))
    calls: dict[str, int] = {}
    running = peak = 0
    ticks: list[str] = []

    @app.task("emails.flaky", queue="emails", max_retries=2, retry_backoff=0.01)
    async def flaky(ctx: Context) -> int:
        calls[ctx.job_id] = calls.get(ctx.job_id, 0) + 1
        if ctx.attempt == 1:
            raise RuntimeError("first attempt fails")
        return ctx.attempt

    @app.task("images.limited", queue="images", concurrency=2)
    async def limited() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.05)
        running -= 1

    stopped: list[bool] = []

    @app.task("billing.long", queue="billing", timeout=60)
    async def long() -> None:
        try:
            await anyio.sleep(60)
        except anyio.get_cancelled_exc_class():
            stopped.append(True)
            raise

    @app.cron("* * * * * *", name="billing.tick", queue="billing")
    async def tick(ctx: Context) -> None:
        ticks.append(ctx.job_id)

    try:
        delayed = await app.enqueue("emails.flaky", delay=0.5)
        keyed = await app.enqueue("emails.flaky", idempotency_key="order-1")
        assert await app.enqueue("emails.flaky", idempotency_key="order-1") == keyed
        limited_ids = [await app.enqueue("images.limited") for _ in range(8)]
        long_id = await app.enqueue("billing.long")
        async with running_node(app, concurrency=10):
            for job_id in (delayed, keyed):
                job = await app.wait_for(job_id, timeout_s=10)
                assert (job.status, job.attempt, job.result) == ("succeeded", 2, 2)
            for job_id in limited_ids:
                assert (await app.wait_for(job_id, timeout_s=10)).status == "succeeded"
            with anyio.fail_after(10):
                while (await app.get_job(long_id)).status != "processing":  # type: ignore[union-attr]
                    await anyio.sleep(0.05)
            await app.cancel(long_id)
            assert (await app.wait_for(long_id, timeout_s=10)).status == "cancelled"
            with anyio.fail_after(5):  # the handler itself was stopped
                while not stopped:
                    await anyio.sleep(0.05)
            with anyio.fail_after(10):
                while len(ticks) < 2:
                    await anyio.sleep(0.05)
        assert peak <= 2 and calls == {delayed: 2, keyed: 2}
        assert len(set(ticks)) == len(ticks)
    finally:
        await app.close()
