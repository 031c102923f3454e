"""Scenarios 1-4: faults of worker processes (SIGKILL, SIGSTOP/SIGCONT, SIGTERM, a job that
kills its worker), under load, checked by the ledger checker."""

from __future__ import annotations

import itertools
import random
import signal
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, JobRequest, Settings
from streamq.devredis import RedisServer
from tests.support.checker import FaultLog, check_run, pending_by_pid
from tests.support.ledger import LedgerLine, read_ledger
from tests.support.observe import TERMINAL, statuses, wait_terminal
from tests.support.procs import WorkerProcess
from tests.support.producer import Producer
from tests.support.report import Size, record, sizes

pytestmark = pytest.mark.chaos

VISIBILITY_MS = 2_000
RECLAIM_MS = 250


def _mixed(seconds: float) -> Callable[[int], JobRequest]:
    """Mostly plain jobs; every 10th fails its first attempt and is retried (backoff,
    scheduled zset, promotion), so that retries are killed too."""

    def make(i: int) -> JobRequest:
        if i % 10 == 0:
            return JobRequest("ledger.flaky", {"seconds": seconds, "failures": 1})
        return JobRequest("ledger.work", {"seconds": seconds})

    return make


@pytest.mark.parametrize(
    "size",
    sizes(
        ci={"seconds": 20, "rate": 100, "processes": 2},
        soak={"seconds": 60, "rate": 250, "processes": 4},
    ),
)
async def test_sigkill_a_random_worker_every_2_s_under_load(
    size: Size,
    redis_servers: Callable[..., RedisServer],
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
    faults: FaultLog,
) -> None:
    server = redis_servers("everysec")
    env = {"STREAMQ_MAX_DELIVERIES": "50"}  # here a lost delivery is the test's own doing

    def spawn() -> WorkerProcess:
        return workers(server.url, concurrency=20, env=env)  # headroom: one may be down

    pool = [spawn() for _ in range(size["processes"])]
    app = App(Settings(redis_url=server.url))
    producer = Producer(app)
    rng = random.Random(6)
    kills: list[tuple[float, int]] = []
    in_flight_at_kills = 0
    async with Redis.from_url(server.url) as redis:

        async def killer() -> None:
            nonlocal in_flight_at_kills
            deadline = time.monotonic() + size["seconds"]
            while time.monotonic() + 2 <= deadline:
                await anyio.sleep(2)
                i = rng.randrange(len(pool))
                victim = pool[i]
                victim.signal(signal.SIGSTOP)  # freeze, so its pending count is exact
                in_flight_at_kills += await pending_by_pid(redis, victim.pid)
                victim.kill()
                kills.append((time.time(), victim.pid))
                faults.add("sigkill", {victim.pid})
                pool[i] = spawn()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(killer)
                await producer.run(_mixed(0.1), size["rate"], size["seconds"], batch=5)
            drain_s = await wait_terminal(redis, producer.log.accepted, 60)
            ledger = read_ledger(ledger_path)
            report = await check_run(redis, producer.log, ledger, faults)
        finally:
            await app.close()

    restart_s = _orphan_restarts(ledger, kills)
    bound_s = (VISIBILITY_MS + RECLAIM_MS) / 1000 + 2
    figures = {
        **report.summary(),
        "kills": len(kills),
        "in_flight_at_kills": in_flight_at_kills,
        "orphans": len(restart_s),
        "orphan_restart_p50_s": round(statistics.median(restart_s), 3) if restart_s else 0,
        "orphan_restart_max_s": round(max(restart_s), 3) if restart_s else 0,
        "drain_s": round(drain_s, 2),
    }
    record("1-sigkill-loop", size, figures)
    assert len(kills) >= size["seconds"] // 2 - 1, figures
    assert report.accepted >= size["rate"] * size["seconds"] * 0.8, figures
    report.assert_clean()
    assert report.statuses == {"succeeded": report.accepted}, figures
    assert report.duplicates <= in_flight_at_kills, figures
    assert restart_s, "some job must have been cut short by a kill"
    assert max(restart_s) <= bound_s, f"an orphan waited over {bound_s} s: {figures}"


def _orphan_restarts(ledger: list[LedgerLine], kills: list[tuple[float, int]]) -> list[float]:
    """For each attempt cut short by a kill: seconds from the kill to its next start."""
    killed_at = {pid: at for at, pid in kills}
    starts: dict[tuple[str, int], list[LedgerLine]] = {}
    done = {(line.job_id, line.pid) for line in ledger if line.event == "done"}
    for line in ledger:
        if line.event == "start":
            starts.setdefault((line.job_id, line.attempt), []).append(line)
    out = []
    for runs in starts.values():
        runs.sort(key=lambda line: line.time_ms)
        for earlier, later in itertools.pairwise(runs):
            at = killed_at.get(earlier.pid)
            if at is not None and (earlier.job_id, earlier.pid) not in done:
                out.append(later.time_ms / 1000 - at)
    return out


@pytest.mark.parametrize(
    "size", sizes(ci={"jobs": 5, "queued_while_frozen": 10}, soak={"jobs": 50,
                                                                   "queued_while_frozen": 100})
)
async def test_sigstopped_worker_is_fenced_and_works_again_only_after_its_heartbeat(
    size: Size,
    redis_servers: Callable[..., RedisServer],
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
    tmp_path: Path,
    faults: FaultLog,
) -> None:
    server = redis_servers("everysec")
    concurrency = size["jobs"] * 2
    frozen = workers(server.url, concurrency=concurrency, log_path=tmp_path / "frozen.log")
    app = App(Settings(redis_url=server.url))
    try:
        async with Redis.from_url(server.url) as redis:
            await anyio.sleep(1.0)  # registered and blocked on its fetch
            ids = [r.job_id for r in await app.enqueue_many(
                [JobRequest("ledger.work", {"seconds": 1.5}) for _ in range(size["jobs"])]
            )]
            with anyio.fail_after(10):
                while len({x.job_id for x in read_ledger(ledger_path)}) < size["jobs"]:
                    await anyio.sleep(0.05)
            frozen.signal(signal.SIGSTOP)
            stopped_at = time.time()
            # Jobs queued while it is frozen reach its blocked XREADGROUP: delivered to a
            # process that cannot run them, they must still run elsewhere, once.
            late = [r.job_id for r in await app.enqueue_many(
                [JobRequest("ledger.work", {"seconds": 0.2})
                 for _ in range(size["queued_while_frozen"])]
            )]
            rescuer = workers(server.url, concurrency=concurrency,
                              log_path=tmp_path / "rescuer.log")
            await wait_terminal(redis, ids + late, 30)
            rescued_s = time.time() - stopped_at
            frozen.signal(signal.SIGCONT)
            thawed_at = time.time()
            faults.add("sigstop", {frozen.pid}, began=stopped_at, ended=thawed_at)
            log = tmp_path / "frozen.log"
            with anyio.fail_after(10):
                while log.read_text().count("fenced off") < size["jobs"]:
                    await anyio.sleep(0.1)
            # More work, only the thawed node to take it: it starts them only after its
            # heartbeat has renewed its lease (logged once, whether or not a beat that
            # straddled the freeze already found its leases lost).
            rescuer.terminate()
            after = [r.job_id for r in await app.enqueue_many(
                [JobRequest("ledger.work", {"seconds": 0.01}) for _ in range(5)]
            )]
            await wait_terminal(redis, after, 15)
            ledger = read_ledger(ledger_path)
            report = await check_run(redis, ids + late + after, ledger, faults, slack_s=15)
            records = {j: await app.get_job(j) for j in ids + late + after}
    finally:
        await app.close()

    fenced = log.read_text().count("fenced off")
    renewed_at = _first_log_time(log, "lease had run out")
    thawed_starts = [
        x.time_ms / 1000 for x in ledger
        if x.pid == frozen.pid and x.event == "start" and x.time_ms / 1000 >= thawed_at
    ]
    figures = {
        **report.summary(),
        "frozen_s": round(thawed_at - stopped_at, 2),
        "rescued_within_s": round(rescued_s, 2),
        "late_outcomes_fenced": fenced,
        "first_start_after_heartbeat_s": round(min(thawed_starts) - renewed_at, 3)
        if thawed_starts and renewed_at else None,
    }
    record("2-sigstop-fencing", size, figures)
    report.assert_clean()
    frozen_name = records[after[0]].worker
    for job_id in ids:  # re-ran elsewhere, and the late outcome did not overwrite it
        job = records[job_id]
        assert job.run == 2 and job.worker != frozen_name, (job_id, job)
    assert fenced >= size["jobs"], figures
    assert report.duplicates == size["jobs"], figures  # exactly the frozen attempts
    started_late = {x.job_id for x in ledger if x.event == "start"} & set(late)
    assert started_late == set(late), "every job queued while it was frozen ran"
    assert all(records[j].worker == frozen_name for j in after), "the thawed node works again"
    assert renewed_at is not None and thawed_starts, figures
    assert min(thawed_starts) >= renewed_at, "it took work before its heartbeat ran"


def _first_log_time(log: Path, needle: str) -> float | None:
    """The time of the first log line holding `needle` (the CLI logs asctime in ms)."""
    from datetime import datetime

    for line in log.read_text().splitlines():
        if needle in line:
            stamp = " ".join(line.split()[:2])
            return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


@pytest.mark.parametrize(
    "size", sizes(ci={"short": 10, "long": 10}, soak={"short": 100, "long": 100})
)
async def test_sigterm_acknowledges_finished_jobs_and_hands_the_rest_over_within_1_s(
    size: Size,
    redis_servers: Callable[..., RedisServer],
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
    faults: FaultLog,
) -> None:
    server = redis_servers("everysec")
    grace_s = 1.5
    n = size["short"] + size["long"]
    leaving = workers(server.url, concurrency=n, args=("--grace-period", str(grace_s)))
    app = App(Settings(redis_url=server.url))
    try:
        async with Redis.from_url(server.url) as redis:
            await anyio.sleep(1.0)
            short = [r.job_id for r in await app.enqueue_many(
                [JobRequest("ledger.work", {"seconds": 0.5}) for _ in range(size["short"])]
            )]
            long = [r.job_id for r in await app.enqueue_many(
                [JobRequest("ledger.work", {"seconds": 4}, timeout=60)
                 for _ in range(size["long"])]
            )]
            with anyio.fail_after(15):
                while len({x.job_id for x in read_ledger(ledger_path)}) < n:
                    await anyio.sleep(0.05)
            taker = workers(server.url, concurrency=n)
            await anyio.sleep(1.0)
            sent = time.time()
            leaving.signal(signal.SIGTERM)
            assert leaving.process is not None
            code = await anyio.to_thread.run_sync(leaving.process.wait, 15)
            exited = time.time()
            faults.add("sigterm", {leaving.pid}, began=sent, ended=exited)
            pending_left = await pending_by_pid(redis, leaving.pid)
            await wait_terminal(redis, short + long, 20)
            ledger = read_ledger(ledger_path)
            report = await check_run(redis, short + long, ledger, faults)
            records = {j: await app.get_job(j) for j in short + long}
        taker.terminate()
    finally:
        await app.close()

    second_start = {x.job_id: x.time_ms / 1000 for x in ledger
                    if x.event == "start" and x.pid == taker.pid}
    handover = [second_start[j] - exited for j in long if j in second_start]
    figures = {
        **report.summary(),
        "exit_code": code,
        "exit_s": round(exited - sent, 3),
        "grace_s": grace_s,
        "handed_over": len(handover),
        "handover_max_s": round(max(handover), 3) if handover else None,
        "pending_left_by_leaving_node": pending_left,
    }
    record("3-sigterm-handover", size, figures)
    report.assert_clean()
    assert code == 0 and exited - sent <= grace_s + 1.0, figures
    assert pending_left == 0, figures
    for job_id in short:  # finished in the grace period, acknowledged by the leaving node
        assert records[job_id].run == 1 and records[job_id].worker != records[long[0]].worker
    assert len(handover) == len(long), figures
    assert max(handover) <= 1.0, figures
    for job_id in long:
        job = records[job_id]
        assert job.run == 2 and job.lost == 0 and job.attempt == 1, job


@pytest.mark.parametrize(
    "size", sizes(ci={"seconds": 10, "processes": 4, "poison": 1},
                  soak={"seconds": 60, "processes": 8, "poison": 3})
)
async def test_job_that_kills_its_worker_is_dead_lettered_and_healthy_jobs_keep_flowing(
    size: Size,
    redis_servers: Callable[..., RedisServer],
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
    faults: FaultLog,
) -> None:
    server = redis_servers("everysec")
    app = App(Settings(redis_url=server.url, max_backlog=10_000_000))
    async with Redis.from_url(server.url) as redis:
        try:
            baseline = await _healthy_throughput(
                app, redis, server, workers, size, poison=0, faults=faults
            )
            with_poison, poison_ids, restarts = await _healthy_throughput(
                app, redis, server, workers, size, poison=size["poison"], faults=faults
            )
            poisoned = [await app.get_job(j) for j in poison_ids]
            dead = await redis.xrange("streamq:{default}:dead")
        finally:
            await app.close()
    max_deliveries = Settings().max_deliveries
    ratio = with_poison / baseline[0]
    figures = {
        "healthy_jobs_per_s_baseline": round(baseline[0], 1),
        "healthy_jobs_per_s_with_poison": round(with_poison, 1),
        "throughput_ratio": round(ratio, 3),
        "worker_crashes": restarts,
        "poison_jobs": len(poison_ids),
        "poison_lost_counts": [j.lost for j in poisoned],
    }
    record("4-poison-job", size, figures)
    for job in poisoned:
        assert (job.status, job.reason) == ("failed", "lost worker"), job
        assert job.lost == max_deliveries and job.attempt == 1, "retry budget untouched"
    assert {f[b"job"].decode() for _, f in dead} == set(poison_ids)
    # Each poison job lost its worker max_deliveries times (asserted above); two of them on
    # one worker die together, so the crashes are at most that many.
    assert max_deliveries <= restarts <= max_deliveries * len(poison_ids), figures
    assert ratio >= 0.8, figures


async def _healthy_throughput(
    app: App,
    redis: Redis,
    server: RedisServer,
    workers: Callable[..., WorkerProcess],
    size: Size,
    poison: int,
    faults: FaultLog,
) -> Any:
    """Healthy jobs done per second over a window of a saturated backlog, with `poison`
    crashing jobs among them; the test restarts a dead worker at once (an orchestrator).
    Jobs sleep, so that the pool's slots (not the machine's two cores) bound throughput."""
    await redis.flushall()
    pool = [workers(server.url, concurrency=10) for _ in range(size["processes"])]
    with anyio.fail_after(20):  # every node registered and waiting
        while await redis.zcard("streamq:{default}:workers") < len(pool):
            await anyio.sleep(0.1)
    healthy = [r.job_id for r in await app.enqueue_many(
        [JobRequest("ledger.work", {"seconds": 0.2}) for _ in range(size["seconds"] * 400)]
    )]
    await anyio.sleep(1.0)  # warmed up
    poison_ids = [r.job_id for r in await app.enqueue_many(
        [JobRequest("ledger.crash", priority="high") for _ in range(poison)]
    )]
    restarts = 0
    began = time.monotonic()
    done_before = await redis.zcard("streamq:{default}:index:succeeded")
    while time.monotonic() - began < size["seconds"]:
        await anyio.sleep(0.05)
        for i, w in enumerate(pool):
            if not w.alive():
                faults.add("poison", {w.pid})
                pool[i] = workers(server.url, concurrency=10)
                restarts += 1
    done = await redis.zcard("streamq:{default}:index:succeeded") - done_before
    rate = done / (time.monotonic() - began)
    with anyio.fail_after(30):  # the poison jobs are dead-lettered (if not yet)
        while any(s not in TERMINAL for s in await statuses(redis, poison_ids)):
            await anyio.sleep(0.05)
            for i, w in enumerate(pool):
                if not w.alive():
                    faults.add("poison", {w.pid})
                    pool[i] = workers(server.url, concurrency=10)
                    restarts += 1
    for w in pool:
        w.kill()
    assert done < len(healthy), "the backlog must outlast the window"
    if poison == 0:
        return (rate,)
    return rate, poison_ids, restarts
