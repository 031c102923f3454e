"""One queue in three shards on the local Redis Cluster: the shards of `default` fall on
the three primaries, one node consumes all of them, lookups by id reach the job's primary,
listing and dead letters page across primaries; worker processes SIGKILLed under load and
the primary of one shard killed lose nothing beyond the durability matrix."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis

from streamq import App, JobRequest, Settings
from streamq.connection import connect
from streamq.keys import QueueKeys
from streamq.shards import id_shard, shard_name
from tests.support.checker import FaultLog, check_run, pending_by_pid
from tests.support.ledger import read_ledger
from tests.support.nodes import running_node
from tests.support.observe import wait_terminal
from tests.support.procs import ApiProcess, WorkerProcess
from tests.support.producer import Producer
from tests.support.report import Size, record, sizes
from tests.support.topology import LocalCluster

from .tasks import run
from .test_failover import SIZES, Failover, _run

SHARDS = 3


def _base(k: int) -> str:
    return QueueKeys("streamq", shard_name("default", k)).base


@pytest.fixture
async def sharded_app(
    cluster: LocalCluster, settings_on: Callable[..., Settings]
) -> AsyncIterator[App]:
    app = App(settings_on(cluster.url, shards=SHARDS))
    app.task("work", max_retries=0, timeout=30)(run)
    try:
        yield app
    finally:
        await app.close()


def test_the_three_shards_of_default_live_on_three_primaries(cluster: LocalCluster) -> None:
    assert len({cluster.primary_of(_base(k)).port for k in range(SHARDS)}) == SHARDS


async def test_one_node_drains_a_queue_sharded_over_three_primaries(
    cluster: LocalCluster, sharded_app: App
) -> None:
    ids = [await sharded_app.enqueue("work", {"n": n}) for n in range(30)]
    ids += [await sharded_app.enqueue("work", {"n": 30 + n, "fail": True}) for n in range(6)]
    assert Counter(id_shard(j) for j in ids) == {0: 12, 1: 12, 2: 12}
    for job_id in ids:  # each record on its own shard's primary
        home = cluster.primary_of(_base(id_shard(job_id)))
        with redis.Redis(port=home.port) as direct:
            assert direct.exists(QueueKeys("streamq", shard_name("default", id_shard(job_id)))
                                 .job(job_id))
    async with running_node(sharded_app, concurrency=8):
        jobs = [await sharded_app.wait_for(j, timeout_s=15) for j in ids]
    assert [j.status for j in jobs] == ["succeeded"] * 30 + ["failed"] * 6
    listed, cursor = [], None
    while True:
        page = await sharded_app.list_jobs(limit=7, cursor=cursor)
        listed += [j.id for j in page.jobs]
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(listed) == sorted(ids) and len(listed) == len(ids)
    dead = await sharded_app.dlq_list(limit=4)
    dead_ids = [e.job_id for e in dead.entries]
    dead_ids += [e.job_id for e in (await sharded_app.dlq_list(cursor=dead.next_cursor)).entries]
    assert sorted(dead_ids) == sorted(ids[30:])
    [stats] = await sharded_app.queue_stats()
    assert (stats.shards, stats.dead, stats.length) == (SHARDS, 6, 0)


async def test_pause_and_cancel_reach_every_primary(sharded_app: App) -> None:
    await sharded_app.pause()
    ids = [await sharded_app.enqueue("work", {"n": n}) for n in range(6)]
    async with running_node(sharded_app, concurrency=4):
        await anyio.sleep(0.6)
        assert {(await sharded_app.get_job(j)).status for j in ids} == {"queued"}
        for j in ids[:3]:
            assert (await sharded_app.cancel(j)).status == "cancelled"
        await sharded_app.resume()
        assert [(await sharded_app.wait_for(j, timeout_s=10)).status for j in ids] == (
            ["cancelled"] * 3 + ["succeeded"] * 3)


@pytest.mark.chaos
@pytest.mark.parametrize("size", sizes(ci={"seconds": 6, "rate": 80, "drain_s": 60},
                                       soak={"seconds": 60, "rate": 250, "drain_s": 240}))
async def test_sigkill_a_worker_every_2_s_on_a_sharded_queue(
    size: Size,
    cluster: LocalCluster,
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
    faults: FaultLog,
) -> None:
    env = {"STREAMQ_MAX_DELIVERIES": "50", "STREAMQ_SHARDS": str(SHARDS)}

    def spawn() -> WorkerProcess:
        return workers(cluster.url, concurrency=20, env=env)

    pool = [spawn() for _ in range(2)]
    app = App(Settings(redis_url=cluster.url, shards=SHARDS))
    producer = Producer(app)
    kills = in_flight_at_kills = 0
    redis_client: Any = connect(app.settings)

    async def killer() -> None:
        nonlocal kills, in_flight_at_kills
        deadline = time.monotonic() + size["seconds"]
        while time.monotonic() + 2 <= deadline:
            await anyio.sleep(2)
            held = [await pending_by_pid(redis_client, w.pid, shards=SHARDS) for w in pool]
            i = held.index(max(held))
            victim = pool[i]
            victim.signal(signal.SIGSTOP)  # frozen, so that its pending count is exact
            in_flight_at_kills += await pending_by_pid(redis_client, victim.pid, shards=SHARDS)
            victim.kill()
            kills += 1
            faults.add("sigkill", {victim.pid})
            pool[i] = spawn()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(killer)
            await producer.run(lambda _i: JobRequest("ledger.work", {"seconds": 0.1}),
                               size["rate"], size["seconds"], batch=5)
        drain_s = await wait_terminal(redis_client, producer.log.accepted, size["drain_s"])
        report = await check_run(redis_client, producer.log, read_ledger(ledger_path), faults,
                                 shards=SHARDS)
    finally:
        await redis_client.aclose()
        await app.close()
    spread = Counter(id_shard(j) for j in producer.log.accepted)
    figures = {**report.summary(), "kills": kills, "in_flight_at_kills": in_flight_at_kills,
               "drain_s": round(drain_s, 2), "jobs_per_shard": dict(sorted(spread.items()))}
    record("16-cluster-sharded-sigkill-loop", size, figures)
    report.assert_clean()
    assert set(spread) == set(range(SHARDS)), figures
    assert kills >= size["seconds"] // 3, figures
    assert report.duplicates > 0 or in_flight_at_kills == 0, figures


@pytest.mark.chaos
@pytest.mark.parametrize("size", SIZES)
async def test_a_replica_takes_over_the_primary_of_one_shard(
    size: Size,
    own_cluster: LocalCluster,
    workers: Callable[..., WorkerProcess],
    apis: Callable[..., ApiProcess],
    ledger_path: Path,
    faults: FaultLog,
) -> None:
    """The primary holding shard 1 dies; the other shards' primaries live on. Producers,
    API and workers carry on over every shard; only what the dying primary acknowledged in
    its last moments may be gone (asynchronous replication)."""
    key = _base(1)
    failover = Failover(
        own_cluster.url,
        primary=lambda: own_cluster.primary_of(key),
        wait=lambda victim: own_cluster.wait_failover(victim, key),
        rejoin=own_cluster.rejoin,
        probe_key=f"probe:{{{shard_name('default', 1)}}}",
    )
    figures = await _run(failover, size, workers, apis, ledger_path, faults, shards=SHARDS)
    record("17-cluster-shard-failover", size, figures)
