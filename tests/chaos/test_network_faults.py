"""Scenario 7, workers and API: a stalled Redis (DEBUG SLEEP shorter and longer than the
visibility timeout, CLIENT PAUSE of writes), connections killed every second (CLIENT KILL,
or reset by the network), one worker cut off behind a half-open link (proxy black hole),
and 200 ms of added latency on every link.
No job is lost; a job runs twice only where a lease really expired (its record counts the
lost delivery); the API answers 202 or 503 within its deadline and never hangs."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, JobRequest, Settings
from streamq.devredis import RedisServer
from streamq.keys import QueueKeys
from tests.support.checker import FaultLog, check_run
from tests.support.ledger import read_ledger
from tests.support.observe import wait_terminal
from tests.support.procs import ApiProcess, WorkerProcess
from tests.support.producer import ApiProducer, Producer
from tests.support.proxy import Proxy
from tests.support.report import Size, record, sizes

pytestmark = pytest.mark.chaos

VISIBILITY_S = 2.0
API_DEADLINE_S = 2.0
K = QueueKeys("streamq", "default")


class Rig:
    """Redis, one proxy and one worker per node, a producer straight to Redis."""

    def __init__(self, server: RedisServer, proxies: list[Proxy], pool: list[WorkerProcess],
                 redis: Redis, faults: FaultLog, api_link: Proxy) -> None:
        self.server, self.proxies, self.pool = server, proxies, pool
        self.redis, self.faults, self.api_link = redis, faults, api_link


async def _debug_sleep(rig: Rig, size: Size, seconds: float) -> None:
    """DEBUG SLEEP blocks Redis, once every few seconds."""
    async with Redis.from_url(rig.server.url, socket_timeout=seconds + 5) as admin:
        for _ in range(size["stalls"]):
            await anyio.sleep(1.5)
            began = time.time()
            await admin.execute_command("DEBUG", "SLEEP", seconds)  # type: ignore[no-untyped-call]
            rig.faults.add(f"debug-sleep-{seconds}s", began=began, ended=time.time(),
                           reach_s=VISIBILITY_S + 1)


async def _client_kill(rig: Rig, size: Size) -> None:
    """Every second, kill every client connection but our own."""
    for _ in range(size["seconds"]):
        await anyio.sleep(1.0)
        await rig.redis.execute_command(  # type: ignore[no-untyped-call]
            "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"
        )
        rig.faults.add("client-kill", reach_s=VISIBILITY_S + 1)


async def _client_pause(rig: Rig, size: Size) -> None:
    """CLIENT PAUSE WRITE for 3 s: reads go on, every write (and script) waits."""
    for _ in range(size["stalls"]):
        await anyio.sleep(1.5)
        began = time.time()
        await rig.redis.execute_command("CLIENT", "PAUSE", 3000, "WRITE")  # type: ignore[no-untyped-call]
        await anyio.sleep(3.0)
        rig.faults.add("client-pause-3s", began=began, ended=time.time(),
                       reach_s=VISIBILITY_S + 1)


async def _proxy_reset(rig: Rig, size: Size) -> None:
    """Every second, RST every connection of every link (workers and API)."""
    for _ in range(size["seconds"]):
        await anyio.sleep(1.0)
        for proxy in [*rig.proxies, rig.api_link]:
            proxy.reset_all()
        rig.faults.add("proxy-reset", reach_s=VISIBILITY_S + 1)


async def _black_hole(rig: Rig, size: Size) -> None:
    """Cut one worker off (its link holds everything, closes nothing), then heal it."""
    await anyio.sleep(1.5)
    began = time.time()
    rig.proxies[0].set_mode("blackhole")
    await anyio.sleep(size["seconds"])
    rig.proxies[0].set_mode("pass")
    rig.faults.add("black-hole", {rig.pool[0].pid}, began=began, ended=time.time() + 5)


async def _delay(rig: Rig, size: Size) -> None:
    """200 ms more each way on every link (workers and API)."""
    await anyio.sleep(1.0)
    began = time.time()
    for proxy in [*rig.proxies, rig.api_link]:
        proxy.set_mode("delay", delay_s=0.2)
    await anyio.sleep(size["seconds"])
    for proxy in [*rig.proxies, rig.api_link]:
        proxy.set_mode("pass")
    rig.faults.add("delay-200ms", began=began, ended=time.time())


Inject = Callable[[Rig, Size], Awaitable[None]]
CASES: dict[str, tuple[Inject, dict[str, Any], dict[str, Any], bool | None]] = {
    # name: (fault, CI size, soak size, must a lease expire (True), must none (False)?)
    "debug-sleep-1s": (lambda r, s: _debug_sleep(r, s, 1.0),
                       {"stalls": 2, "seconds": 6}, {"stalls": 10, "seconds": 30}, False),
    "debug-sleep-3s": (lambda r, s: _debug_sleep(r, s, 3.0),
                       {"stalls": 1, "seconds": 6}, {"stalls": 5, "seconds": 30}, None),
    "client-pause-write-3s": (_client_pause, {"stalls": 1, "seconds": 6},
                              {"stalls": 5, "seconds": 30}, None),
    "client-kill-every-1s": (_client_kill, {"seconds": 8}, {"seconds": 20}, False),
    "proxy-reset-every-1s": (_proxy_reset, {"seconds": 8}, {"seconds": 20}, False),
    "black-hole-one-worker": (_black_hole, {"seconds": 5}, {"seconds": 10}, True),
    "delay-200ms": (_delay, {"seconds": 8}, {"seconds": 30}, False),
}


def _params() -> list[Any]:
    out = []
    for name, (_, ci, soak, _) in CASES.items():
        for p in sizes(ci, soak):
            out.append(pytest.param(name, *p.values, id=f"{p.id}-{name}", marks=p.marks))
    return out


@pytest.mark.parametrize(("case", "size"), _params())
async def test_stalls_kills_and_slow_links_lose_nothing_and_rerun_only_expired_leases(
    case: str,
    size: Size,
    redis_servers: Callable[..., RedisServer],
    proxies: Callable[[int], Proxy],
    workers: Callable[..., WorkerProcess],
    apis: Callable[..., ApiProcess],
    ledger_path: Path,
    faults: FaultLog,
) -> None:
    inject, _, _, may_expire = CASES[case]
    server = redis_servers("everysec", extra_args=("--enable-debug-command", "local"))
    links = [proxies(server.port) for _ in range(2)]
    pool = [workers(link.url, concurrency=10) for link in links]
    api_link = proxies(server.port)
    api = apis(api_link.url, env={"STREAMQ_API_DEADLINE_S": str(API_DEADLINE_S)})
    via_api = ApiProducer()
    app = App(Settings(redis_url=server.url, redis_timeout_s=5.0))
    producer = Producer(app)
    run_s = size["seconds"] + (3 if "stalls" in size.values else 2)
    async with Redis.from_url(server.url) as redis:
        rig = Rig(server, links, pool, redis, faults, api_link)
        try:
            with anyio.fail_after(20):
                while await redis.zcard(K.workers) < len(pool):
                    await anyio.sleep(0.1)
            async with aiohttp.ClientSession() as http, anyio.create_task_group() as tg:
                tg.start_soon(inject, rig, size)
                # The API too, 10 submissions a second; a client that waits this long for
                # an answer has met an API that hangs.
                tg.start_soon(via_api.run, http, api, run_s, 10, API_DEADLINE_S + 8)
                await producer.run(lambda _i: JobRequest("ledger.work", {"seconds": 0.1}),
                                   50, run_s, batch=2)
            log = producer.log.merged(via_api.log)
            drain_s = await wait_terminal(redis, log.accepted, 60)
            ledger = read_ledger(ledger_path)
            report = await check_run(redis, log, ledger, faults)
            pipe = redis.pipeline(transaction=False)
            for job_id in log.accepted:
                pipe.hget(K.job(job_id), "lost")
            lost_counts = dict(zip(log.accepted,
                                   [int(x or 0) for x in await pipe.execute()], strict=True))
        finally:
            await app.close()

    duplicated = _duplicated_jobs(ledger)
    expired = {j for j, n in lost_counts.items() if n > 0}
    figures = {
        **report.summary(),
        "case": case,
        "leases_expired": len(expired),
        "duplicated_jobs": len(duplicated),
        "duplicated_without_expired_lease": len(duplicated - expired),
        "drain_s": round(drain_s, 2),
        "workers_alive": sum(w.alive() for w in pool),
        "api_answers": dict(via_api.log.statuses()),
        "api_latency_max_s": round(max(via_api.log.latencies), 3),
        "api_no_answer": [s.error for s in via_api.log.submissions if s.status == 0],
    }
    record(f"7-{case}", size, figures)
    report.assert_clean()
    assert report.statuses == {"succeeded": report.accepted + report.unknown_written}, figures
    assert duplicated <= expired, "a job ran twice without its lease expiring"
    if may_expire is False:
        assert not duplicated, f"no running job should lose its lease under {case}: {figures}"
    elif may_expire:
        assert expired, f"{case} should have cost some leases: {figures}"
    assert all(w.alive() for w in pool), "workers ride the fault out"
    # The API answers within its deadline (plus a second for the answer itself), 202 or
    # 503 with Retry-After, and never hangs (status 0).
    assert set(via_api.log.statuses()) <= {202, 503}, figures
    assert max(via_api.log.latencies) <= API_DEADLINE_S + 1.0, figures
    if case == "debug-sleep-3s":
        assert via_api.log.statuses()[503] > 0, (
            f"a 3 s stall outlasts the API's deadline: {figures}")


def _duplicated_jobs(ledger: list[Any]) -> set[str]:
    seen: dict[tuple[str, int], int] = {}
    for x in ledger:
        if x.event == "start":
            seen[(x.job_id, x.attempt)] = seen.get((x.job_id, x.attempt), 0) + 1
    return {job_id for (job_id, _), n in seen.items() if n > 1}
