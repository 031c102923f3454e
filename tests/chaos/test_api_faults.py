"""Scenarios 8, 10 and 11: the HTTP API as its own process, under Redis out of memory, under
malformed and mutated requests, and without (or with the wrong) credentials."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp
import anyio
import pytest
from redis.asyncio import Redis

from streamq.devredis import RedisServer
from streamq.keys import QueueKeys
from tests.support.checker import check_run
from tests.support.ledger import read_ledger
from tests.support.observe import wait_terminal
from tests.support.procs import ApiProcess, WorkerProcess
from tests.support.report import Size, record, sizes

pytestmark = pytest.mark.chaos

K = QueueKeys("streamq", "default")
JOB = {"type": "ledger.work", "payload": {"seconds": 0.01}}


class Submissions:
    """What the API answered to each POST /jobs: status, Retry-After, job id, time."""

    def __init__(self) -> None:
        self.answers: list[tuple[float, int, str | None, str | None]] = []

    async def post(self, http: aiohttp.ClientSession, url: str, timeout_s: float) -> int:
        try:
            async with http.post(f"{url}/jobs", json=JOB,
                                 timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                body = await resp.json(content_type=None)
                job_id = body.get("id") if resp.status in (200, 202) else None
                self.answers.append(
                    (time.time(), resp.status, resp.headers.get("Retry-After"), job_id)
                )
                return resp.status
        except (TimeoutError, aiohttp.ClientError):
            self.answers.append((time.time(), 0, None, None))  # 0: no answer in time
            return 0

    @property
    def accepted(self) -> list[str]:
        return [j for _, status, _, j in self.answers if status == 202 and j]

    def statuses(self) -> Counter[int]:
        return Counter(status for _, status, _, _ in self.answers)


async def _submit_for(subs: Submissions, http: aiohttp.ClientSession, api: ApiProcess,
                      seconds: float, rate: float, timeout_s: float = 5.0) -> None:
    began = time.monotonic()
    async with anyio.create_task_group() as tg:
        i = 0
        while time.monotonic() - began < seconds:
            tg.start_soon(subs.post, http, api.url, timeout_s)
            i += 1
            await anyio.sleep(max(0.0, began + i / rate - time.monotonic()))


@pytest.mark.parametrize(
    "size", sizes(ci={"before_s": 2, "oom_s": 3, "after_s": 2, "rate": 50},
                  soak={"before_s": 10, "oom_s": 30, "after_s": 10, "rate": 200})
)
async def test_out_of_memory_is_503_or_429_with_retry_after_and_half_writes_nothing(
    size: Size,
    redis_servers: Callable[..., RedisServer],
    workers: Callable[..., WorkerProcess],
    apis: Callable[..., ApiProcess],
    ledger_path: Path,
) -> None:
    server = redis_servers("everysec")
    worker = workers(server.url, concurrency=10)
    api = apis(server.url)
    subs = Submissions()
    async with Redis.from_url(server.url) as redis, aiohttp.ClientSession() as http:
        await _submit_for(subs, http, api, size["before_s"], size["rate"])
        used = int((await redis.info("memory"))["used_memory"])
        await redis.config_set("maxmemory", used + 64 * 1024)  # full within a few jobs
        oom_began = time.time()
        await _submit_for(subs, http, api, size["oom_s"], size["rate"])
        during = subs.statuses()
        await redis.config_set("maxmemory", 0)
        freed = time.time()
        await _submit_for(subs, http, api, size["after_s"], size["rate"])
        await wait_terminal(redis, subs.accepted, 30)
        ledger = read_ledger(ledger_path)
        report = await check_run(redis, subs.accepted, ledger)
        job_keys = [k async for k in redis.scan_iter(match=K.job("*"), count=1000)]
        indexed = await redis.zcard(K.index_all)

    refused = [(s, ra) for at, s, ra, _ in subs.answers if oom_began <= at and s != 202]
    resumed = [at - freed for at, s, _, _ in subs.answers if at >= freed and s == 202]
    started = {x.job_id for x in ledger if x.event == "start"}
    figures = {
        **report.summary(),
        "answers": dict(subs.statuses()),
        "answers_during_oom": dict(during),
        "refused_without_retry_after": sum(1 for _, ra in refused if not ra),
        "job_records": len(job_keys),
        "api_resumed_after_s": round(min(resumed), 3) if resumed else None,
        "worker_alive": worker.alive(),
    }
    record("8-out-of-memory", size, figures)
    assert set(subs.statuses()) <= {202, 503, 429}, f"only 202, 503 or 429: {figures}"
    assert subs.statuses()[503] + subs.statuses()[429] > 0, f"OOM never reached: {figures}"
    assert all(ra for _, ra in refused), f"every refusal carries Retry-After: {figures}"
    # No half-written job: records, the listing index and the jobs that ran are exactly the
    # accepted ones (a refused submission left neither a record nor a stream entry).
    assert len(job_keys) == indexed == len(subs.accepted), figures
    assert started <= set(subs.accepted), figures
    report.assert_clean()
    assert resumed and min(resumed) <= 1.0, figures
    assert worker.alive(), figures
