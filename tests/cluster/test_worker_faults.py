"""Worker processes SIGKILLed under load on a Redis Cluster: their jobs are taken back after
the visibility timeout and finish elsewhere; none is lost, every re-run is explained."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from streamq import App, JobRequest, Settings
from streamq.connection import connect
from tests.support.checker import FaultLog, check_run, pending_by_pid
from tests.support.ledger import read_ledger
from tests.support.observe import wait_terminal
from tests.support.procs import WorkerProcess
from tests.support.producer import Producer
from tests.support.report import Size, record, sizes
from tests.support.topology import LocalCluster

pytestmark = pytest.mark.chaos


def _mixed(i: int) -> JobRequest:
    """Every 10th job fails once and is retried (scheduled, then promoted)."""
    if i % 10 == 0:
        return JobRequest("ledger.flaky", {"seconds": 0.1, "failures": 1})
    return JobRequest("ledger.work", {"seconds": 0.1})


@pytest.mark.parametrize("size", sizes(ci={"seconds": 6, "rate": 80},
                                       soak={"seconds": 60, "rate": 250}))
async def test_sigkill_a_worker_every_2_s_on_a_cluster(
    size: Size,
    cluster: LocalCluster,
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
    faults: FaultLog,
) -> None:
    env = {"STREAMQ_MAX_DELIVERIES": "50"}  # a lost delivery is the test's own doing

    def spawn() -> WorkerProcess:
        return workers(cluster.url, concurrency=20, env=env)

    pool = [spawn() for _ in range(2)]
    app = App(Settings(redis_url=cluster.url))
    producer = Producer(app)
    kills = in_flight_at_kills = 0
    redis: Any = connect(app.settings)

    async def killer() -> None:
        nonlocal kills, in_flight_at_kills
        deadline = time.monotonic() + size["seconds"]
        while time.monotonic() + 2 <= deadline:
            await anyio.sleep(2)
            held = [await pending_by_pid(redis, w.pid) for w in pool]
            i = held.index(max(held))  # the busier one, so that a kill cuts jobs short
            victim = pool[i]
            victim.signal(signal.SIGSTOP)  # frozen, so that its pending count is exact
            in_flight_at_kills += await pending_by_pid(redis, victim.pid)
            victim.kill()
            kills += 1
            faults.add("sigkill", {victim.pid})
            pool[i] = spawn()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(killer)
            await producer.run(_mixed, size["rate"], size["seconds"], batch=5)
        drain_s = await wait_terminal(redis, producer.log.accepted, 60)
        report = await check_run(redis, producer.log, read_ledger(ledger_path), faults)
    finally:
        await redis.aclose()
        await app.close()
    figures = {**report.summary(), "kills": kills, "in_flight_at_kills": in_flight_at_kills,
               "drain_s": round(drain_s, 2)}
    record("15-cluster-sigkill-loop", size, figures)
    report.assert_clean()
    assert kills >= size["seconds"] // 3, figures  # one every 2 s, plus the freezing
    assert report.duplicates > 0 or in_flight_at_kills == 0, figures
