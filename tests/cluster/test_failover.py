"""Failover under load: the primary holding a queue is SIGKILLed while a producer, an API
and two worker processes run. On a Redis Cluster its replica takes over; behind Sentinel
the sentinels promote the replica. Workers, API and producer must carry on by themselves,
on the same URL; an accepted job may be lost only if the primary acknowledged it in the
moments before it died, before its replica had copied it (asynchronous replication).

In the soak tier the killed primary is restarted on its data (it comes back as a replica
of the promoted one) and the new primary is killed in turn, three times.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from streamq import App, JobRequest, Settings
from streamq.connection import connect
from streamq.devredis import RedisServer
from streamq.keys import QueueKeys
from tests.support.checker import FaultLog, check_run
from tests.support.ledger import read_ledger
from tests.support.observe import statuses, wait_terminal
from tests.support.procs import ApiProcess, WorkerProcess
from tests.support.producer import ApiProducer, Producer
from tests.support.report import Size, record, sizes
from tests.support.topology import LocalCluster, LocalSentinel

pytestmark = pytest.mark.chaos

SIZES = sizes(ci={"kills": 1, "before_s": 2, "after_s": 3, "rate": 100, "job_s": 0.05},
              soak={"kills": 3, "before_s": 15, "after_s": 20, "rate": 300, "job_s": 0.05})


@dataclass
class Failover:
    """The topology seen from the test: the queue's primary, how long until a replica
    replaces a killed one, and how a killed one comes back (as a replica)."""

    url: str
    primary: Callable[[], RedisServer]
    wait: Callable[[RedisServer], float]
    rejoin: Callable[[RedisServer], None]
    probe_key: str = "probe:{default}"
    """A key of the killed primary's slot, for the replication lag probe."""


@dataclass
class Kill:
    killed: float
    promoted: float
    failover_s: float


def _percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


async def _replication_lag(
    failover: Failover, kills: list[Kill], expected: int, lags: list[float]
) -> None:
    """Every 50 ms, how long a write to the primary takes to be confirmed by its replica
    (SET, then WAIT 1 on the same connection). A write the primary acknowledged is on the
    primary alone for about that long: the window in which a failover can lose it."""
    while len(kills) < expected:
        seen = len(kills)
        await anyio.sleep(0.2)
        try:
            async with Redis(port=failover.primary().port, socket_timeout=2) as direct:
                while len(kills) == seen:
                    began = time.perf_counter()
                    await direct.set(failover.probe_key, began)
                    if await direct.execute_command("WAIT", 1, 1000):
                        lags.append(time.perf_counter() - began)
                    await anyio.sleep(0.05)
        except (RedisError, AssertionError, OSError):
            continue  # killed, or not replaced yet


async def _kill_primaries(
    failover: Failover, size: Size, kills: list[Kill], faults: FaultLog
) -> None:
    for i in range(size["kills"]):
        await anyio.sleep(size["before_s"])
        victim = failover.primary()
        killed = time.time()
        victim.kill()
        failover_s = await anyio.to_thread.run_sync(failover.wait, victim)
        promoted = time.time()
        faults.add("primary-failover", began=killed, ended=promoted)
        kills.append(Kill(killed, promoted, failover_s))
        if i + 1 < size["kills"]:  # back as a replica, to be promoted at the next kill
            await anyio.sleep(size["before_s"] / 2)
            await anyio.to_thread.run_sync(failover.rejoin, victim)


async def _readiness(
    http: aiohttp.ClientSession, api: ApiProcess, kills: list[Kill], expected: int,
    answers: list[tuple[float, int]],
) -> None:
    """`GET /readyz` every 100 ms until the last failover is over: (time, status)."""
    while len(kills) < expected or time.time() < kills[-1].promoted + 1:
        try:
            async with http.get(f"{api.url}/readyz",
                                timeout=aiohttp.ClientTimeout(total=3)) as resp:
                answers.append((time.time(), resp.status))
        except (TimeoutError, aiohttp.ClientError):
            answers.append((time.time(), 0))
        await anyio.sleep(0.1)


async def _run(
    failover: Failover,
    size: Size,
    workers: Callable[..., WorkerProcess],
    apis: Callable[..., ApiProcess],
    ledger_path: Path,
    faults: FaultLog,
    shards: int = 1,
) -> dict[str, Any]:
    env = {"STREAMQ_SHARDS": str(shards)}
    pool = [workers(failover.url, concurrency=10, env=env) for _ in range(2)]
    api = apis(failover.url, env=env)
    app = App(Settings(redis_url=failover.url, redis_timeout_s=1.0, fetch_block_ms=200,
                       shards=shards))
    producer = Producer(app)
    via_api = ApiProducer()
    kills: list[Kill] = []
    lags: list[float] = []
    ready: list[tuple[float, int]] = []
    job = JobRequest("ledger.work", {"seconds": size["job_s"]})
    try:
        async with aiohttp.ClientSession() as http, anyio.create_task_group() as tg:
            tg.start_soon(_kill_primaries, failover, size, kills, faults)
            tg.start_soon(_replication_lag, failover, kills, size["kills"], lags)
            tg.start_soon(_readiness, http, api, kills, size["kills"], ready)
            while len(kills) < size["kills"] or time.time() < kills[-1].promoted + size[
                "after_s"
            ]:
                async with anyio.create_task_group() as chunk:
                    chunk.start_soon(via_api.run, http, api, 1.0, 10)
                    await producer.run(lambda _i: job, size["rate"], 1.0, batch=2)
        log = producer.log.merged(via_api.log)  # what the API accepted counts too
        redis: Any = connect(app.settings)
        try:
            found = await statuses(redis, log.accepted)
            missing = [j for j, s in zip(log.accepted, found, strict=True) if s is None]
            written = [j for j, s in zip(log.unknown, await statuses(redis, log.unknown),
                                         strict=True) if s is not None]
            present = sorted(set(log.accepted) - set(missing)) + written
            await wait_terminal(redis, present, 60)
            ledger = read_ledger(ledger_path)
            report = await check_run(redis, log, ledger, faults, excused=set(missing),
                                     shards=shards)
        finally:
            await redis.aclose()
    finally:
        await app.close()

    accepted_at = log.accepted_at()
    starts = [x.time_ms / 1000 for x in ledger if x.event == "start"]

    def first_after(times: list[float], at: float) -> float:
        return round(min((t for t in times if t >= at), default=float("inf")) - at, 3)

    accepts = [s.at for s in producer.log.submissions if s.outcome == "accepted"]
    api_accepts = [s.at for s in via_api.log.submissions if s.status == 202]
    ages = [min(k.killed - accepted_at[j] for k in kills if k.killed >= accepted_at[j])
            for j in missing]
    figures = {
        **report.summary(),
        "kills": len(kills),
        "accepted": len(log.accepted),
        "accepted_lost": len(missing),
        "lost_accepted_before_kill_max_ms": round(max(ages, default=0) * 1000, 1),
        "replica_ack_ms_median": round(statistics.median(lags) * 1000, 2),
        "replica_ack_ms_p99": round(_percentile(lags, 99) * 1000, 2),
        "replica_ack_ms_max": round(max(lags) * 1000, 2),
        "failover_s": [round(k.failover_s, 3) for k in kills],
        "worker_resume_s": [first_after(starts, k.promoted) for k in kills],
        "producer_resume_s": [first_after(accepts, k.promoted) for k in kills],
        "api_resume_s": [first_after(api_accepts, k.promoted) for k in kills],
        "api_answers": dict(via_api.log.statuses()),
        "readyz_503_during_failover": [
            sum(1 for at, status in ready if k.killed <= at <= k.promoted and status == 503)
            for k in kills],
        "readyz_last": ready[-1][1],
        "actor_crashes": sum(  # outages are waited out; a crash is logged as one
            " crashed (" in line for path in ledger_path.parent.glob("worker-*.log")
            for line in path.read_text(errors="replace").splitlines()),
    }
    report.assert_clean()
    assert all(w.alive() for w in pool), "workers must ride out the failover themselves"
    assert figures["actor_crashes"] == 0, figures
    # /readyz says so while the queue's primary is being replaced, and recovers
    assert min(figures["readyz_503_during_failover"]) > 0, figures
    assert figures["readyz_last"] == 200, figures
    assert api.alive() and set(via_api.log.statuses()) <= {202, 503}, figures
    for resume in ("worker_resume_s", "producer_resume_s", "api_resume_s"):
        assert max(figures[resume]) <= 5.0, figures
    # asynchronous replication: only what a dying primary acknowledged last may be gone
    assert figures["lost_accepted_before_kill_max_ms"] <= 500, figures
    return figures


@pytest.mark.parametrize("size", SIZES)
async def test_cluster_replica_takes_over_a_killed_primary(
    size: Size,
    own_cluster: LocalCluster,
    workers: Callable[..., WorkerProcess],
    apis: Callable[..., ApiProcess],
    ledger_path: Path,
    faults: FaultLog,
) -> None:
    key = QueueKeys("streamq", "default").base
    failover = Failover(
        own_cluster.url,
        primary=lambda: own_cluster.primary_of(key),
        wait=lambda victim: own_cluster.wait_failover(victim, key),
        rejoin=own_cluster.rejoin,
    )
    figures = await _run(failover, size, workers, apis, ledger_path, faults)
    record("13-cluster-failover", size, figures)


@pytest.mark.parametrize("size", SIZES)
async def test_sentinels_promote_the_replica_of_a_killed_primary(
    size: Size,
    own_sentinel: LocalSentinel,
    workers: Callable[..., WorkerProcess],
    apis: Callable[..., ApiProcess],
    ledger_path: Path,
    faults: FaultLog,
) -> None:
    failover = Failover(
        own_sentinel.url,
        primary=lambda: own_sentinel.server(own_sentinel.current_primary()),
        wait=own_sentinel.wait_failover,
        rejoin=own_sentinel.rejoin,
    )
    figures = await _run(failover, size, workers, apis, ledger_path, faults)
    record("14-sentinel-failover", size, figures)
