"""Invariant 1 across a Redis crash: SIGKILL and restart with `appendfsync always` while
producers enqueue and workers run. Every accepted job ends succeeded; workers resume by
themselves, without a restart of their own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, BackendUnavailable, JobStatus, QueueFull, Settings
from streamq.devredis import RedisServer
from tests.invariants.checks import assert_queue_drained
from tests.support.ledger import counts, read_ledger
from tests.support.procs import WorkerProcess

pytestmark = pytest.mark.chaos


async def test_redis_sigkill_and_restart_with_aof_always_loses_no_accepted_job(
    own_redis: RedisServer,
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
) -> None:
    url = own_redis.url
    pool = [workers(url, concurrency=10) for _ in range(2)]
    app = App(Settings(redis_url=url, redis_timeout_s=1.0, fetch_block_ms=200))
    accepted: list[str] = []
    refused = 0
    try:

        async def produce() -> None:
            nonlocal refused
            for _ in range(900):
                try:
                    accepted.append(await app.enqueue("ledger.work", {"seconds": 0.02}))
                except (BackendUnavailable, QueueFull):
                    refused += 1
                    await anyio.sleep(0.05)
                await anyio.sleep(0.004)

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            await anyio.sleep(1.5)
            own_redis.kill()
            await anyio.sleep(1.0)
            own_redis.start()
        assert refused > 0, "the producer should have seen Redis down"
        assert len(accepted) > 300

        with anyio.fail_after(40):
            while True:
                statuses = [(await app.get_job(j)).status for j in accepted]
                if all(s.terminal for s in statuses):
                    break
                await anyio.sleep(0.25)
        assert set(statuses) == {JobStatus.SUCCEEDED}
        assert set(counts(read_ledger(ledger_path), "done")) >= set(accepted)
        assert all(w.alive() for w in pool), "workers must survive the outage themselves"
        async with Redis.from_url(url) as redis:
            await assert_queue_drained(redis)
    finally:
        await app.close()
