"""Worker processes SIGKILLed while they archive, and the archive's PostgreSQL stopped under
load: no terminal job is missing from the archive, none is there twice, jobs do not wait
for PostgreSQL, and a worker's /readyz says when its archive is unreachable.

CI size: 3 kills, a 4 s outage; `pytest -m soak tests/history`: 10 kills, a 30 s outage."""

from __future__ import annotations

import random
import signal
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, JobRequest, Settings
from streamq.devredis import free_port
from streamq.keys import QueueKeys
from tests.history.checks import latencies_ms, row_counts, wait_rows
from tests.support.observe import TERMINAL, statuses, wait_terminal
from tests.support.postgres import PrivatePostgres
from tests.support.procs import WorkerProcess
from tests.support.producer import Producer
from tests.support.report import Size, record, sizes

pytestmark = pytest.mark.chaos


def readyz(port: int) -> int:
    """The worker's /readyz status; 0 while it does not answer (starting, or busy)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def job(i: int) -> JobRequest:
    return JobRequest("ledger.work", {"seconds": 0.02})


@pytest.mark.parametrize("size", sizes(
    ci={"rate": 80, "kills": 3, "kill_every_s": 1.5, "outage_s": 4, "workers": 3},
    soak={"rate": 250, "kills": 10, "kill_every_s": 2.0, "outage_s": 30, "workers": 3},
))
async def test_kills_and_a_postgres_outage_lose_and_duplicate_nothing(
    size: Size, redis_url: str, private_pg: PrivatePostgres,
    workers: Callable[..., WorkerProcess],
) -> None:
    url = private_pg.url()
    env = {"STREAMQ_HISTORY_URL": url, "STREAMQ_HISTORY_BATCH_SIZE": "25",
           "STREAMQ_MAX_DELIVERIES": "50"}
    probe_port = free_port()

    def spawn(probe: bool = False) -> WorkerProcess:
        args = ("--metrics-port", str(probe_port)) if probe else ()
        return workers(redis_url, concurrency=20, env=env, args=args, ledger=None)

    steady = spawn(probe=True)  # never killed: its /readyz is watched
    pool = [spawn() for _ in range(size["workers"] - 1)]
    app = App(Settings(redis_url=redis_url))
    producer = Producer(app)
    rng = random.Random(14)
    marks: dict[str, float] = {}
    kills = 0
    async with Redis.from_url(redis_url) as redis:

        async def chaos() -> None:
            nonlocal kills
            await anyio.sleep(2)  # workers up, archiving at full speed
            for _ in range(size["kills"]):
                i = rng.randrange(len(pool))
                pool[i].signal(signal.SIGKILL)  # mid-batch: batches are small and constant
                pool[i].kill()
                pool[i] = spawn()
                kills += 1
                await anyio.sleep(size["kill_every_s"])
            marks["calm"] = time.time()
            await anyio.sleep(3)
            marks["outage"] = time.time()
            private_pg.stop()
            with anyio.fail_after(15):
                while readyz(probe_port) != 503:
                    await anyio.sleep(0.2)
            marks["unready"] = time.time() - marks["outage"]
            await anyio.sleep(max(0.0, size["outage_s"] - marks["unready"]) / 2)
            pool[0].kill()  # it held unarchived batches: another node must take them
            pool[0] = spawn()
            kills += 1
            await anyio.sleep(max(0.0, size["outage_s"] - marks["unready"]) / 2)
            marks["back"] = time.time()
            private_pg.start()
            await anyio.sleep(1)

        try:
            duration = 2 + size["kills"] * size["kill_every_s"] + 3 + size["outage_s"] + 2
            async with anyio.create_task_group() as tg:
                tg.start_soon(chaos)
                await producer.run(job, size["rate"], duration, batch=4)
            accepted = producer.log.accepted
            drain_s = await wait_terminal(redis, accepted, 60)
            try:
                archive_s = await wait_rows(url, len(accepted), 30)
            except TimeoutError:
                key = QueueKeys("streamq", "default").archive
                counts = await row_counts(url)
                missing = set(accepted) - {j for j, _ in counts}
                raise AssertionError(
                    f"{len(missing)} jobs not archived, e.g. {sorted(missing)[:3]}; archive "
                    f"stream: {await redis.xlen(key)} entries, pending "
                    f"{await redis.xpending(key, 'archivers')}, consumers "
                    f"{await redis.xinfo_consumers(key, 'archivers')}") from None
            with anyio.fail_after(15):
                while readyz(probe_port) != 200:
                    await anyio.sleep(0.2)
            runs = await final_runs(redis, accepted)
        finally:
            await app.close()
    counts = await row_counts(url)
    assert set(counts) == {(j, runs[j]) for j in accepted}, "a job missing, or a stale run"
    assert set(counts.values()) == {1}, "a (job id, run) archived twice"
    at = producer.log.accepted_at()
    calm = [j for j in accepted if marks["calm"] <= at[j] < marks["outage"]]
    down = [j for j in accepted if marks["outage"] + 1 <= at[j] < marks["back"]]
    calm_ms, down_ms = await latencies_ms(url, calm), await latencies_ms(url, down)
    figures = {"accepted": len(accepted), "kills": kills, "rows": sum(counts.values()),
               "drain_s": round(drain_s, 2), "archived_within_s": round(archive_s, 2),
               "unready_after_s": round(marks["unready"], 2),
               "latency_p50_ms_calm": round(statistics.median(calm_ms), 1),
               "latency_p50_ms_pg_down": round(statistics.median(down_ms), 1)}
    record("history-2-kills-and-outage", size, figures)
    assert kills == size["kills"] + 1 and steady.alive()
    # jobs do not wait for PostgreSQL: their time to finish is the same with it down
    assert figures["latency_p50_ms_pg_down"] <= 2 * figures["latency_p50_ms_calm"] + 50, figures


async def final_runs(redis: Redis, ids: list[str]) -> dict[str, int]:
    """Each job's run number as its record says (all must be terminal)."""
    found = await statuses(redis, ids)
    assert all(s in TERMINAL for s in found)
    k = QueueKeys("streamq", "default")
    pipe = redis.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(k.job(job_id), "run")
    return {j: int(r) for j, r in zip(ids, await pipe.execute(), strict=True)}
