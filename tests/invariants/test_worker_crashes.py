"""Invariants 1 and 2 under worker faults: SIGKILL loops, SIGSTOP past the lease, long jobs.

Workers are real processes; handlers write a ledger that survives SIGKILL.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, JobRequest, JobStatus
from tests.invariants.checks import assert_queue_drained
from tests.support.ledger import counts, read_ledger
from tests.support.procs import WorkerProcess

pytestmark = pytest.mark.chaos


async def _statuses(app: App, ids: list[str]) -> dict[str, JobStatus]:
    out = {}
    for job_id in ids:
        out[job_id] = (await app.get_job(job_id)).status
    return out


async def _pending_of(redis: Redis, pid: int, queue: str = "default") -> int:
    """Entries pending (fetched, not acknowledged) under the node of process `pid`."""
    total = 0
    for priority in ("high", "normal", "low"):
        stream = f"streamq:{{{queue}}}:stream:{priority}"
        if not await redis.exists(stream):
            continue
        for consumer in await redis.xinfo_consumers(stream, "workers"):
            if f":{pid}:" in consumer["name"].decode():
                total += int(consumer["pending"])
    return total


async def _wait_terminal(app: App, ids: list[str], timeout_s: float) -> dict[str, JobStatus]:
    with anyio.move_on_after(timeout_s):
        while True:
            statuses = await _statuses(app, ids)
            if all(s.terminal for s in statuses.values()):
                return statuses
            await anyio.sleep(0.2)
    return await _statuses(app, ids)


async def test_sigkill_a_worker_every_2_s_loses_nothing(
    client: App,
    redis_url: str,
    redis_client: Redis,
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
) -> None:
    env = {"STREAMQ_MAX_DELIVERIES": "20"}
    app = client
    ids = [
        r.job_id
        for r in await app.enqueue_many(
            [JobRequest("ledger.work", {"seconds": 0.1}) for _ in range(2000)]
        )
    ]
    pool = [workers(redis_url, concurrency=10, env=env) for _ in range(2)]
    killed_pids: set[int] = set()
    rng = random.Random(7)
    deadline = time.monotonic() + 60
    kills = 0
    in_flight_at_kills = 0
    while time.monotonic() < deadline:
        await anyio.sleep(2)
        statuses = await _statuses(app, ids)
        if all(s.terminal for s in statuses.values()):
            break
        i = rng.randrange(len(pool))
        killed_pids.add(pool[i].pid)
        in_flight_at_kills += await _pending_of(redis_client, pool[i].pid)
        pool[i].kill()
        kills += 1
        pool[i] = workers(redis_url, concurrency=10, env=env)
    statuses = await _wait_terminal(app, ids, 30)
    assert kills >= 3
    assert set(statuses.values()) == {JobStatus.SUCCEEDED}, "every job must succeed"

    ledger = read_ledger(ledger_path)
    done = counts(ledger, "done")
    assert set(done) == set(ids)
    starts: dict[str, list[int]] = {}
    for line in ledger:
        if line.event == "start":
            starts.setdefault(line.job_id, []).append(line.pid)
    extra = {j: pids for j, pids in starts.items() if len(pids) > 1}
    # An extra execution is explained only by a kill of the process that ran it before.
    for job_id, pids in extra.items():
        assert all(pid in killed_pids for pid in pids[:-1]), (job_id, pids)
    # Duplicates are bounded by the entries the killed nodes held unacknowledged.
    assert sum(len(p) - 1 for p in extra.values()) <= in_flight_at_kills
    await assert_queue_drained(redis_client)


async def test_sigstopped_worker_loses_its_jobs_and_its_late_outcomes_are_fenced(
    client: App,
    redis_url: str,
    redis_client: Redis,
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
    tmp_path: Path,
) -> None:
    app = client
    frozen = workers(redis_url, concurrency=10, log_path=tmp_path / "frozen.log")
    await anyio.sleep(1.0)  # let it register and block on its fetch
    ids = [
        r.job_id
        for r in await app.enqueue_many(
            [JobRequest("ledger.work", {"seconds": 1.5}) for _ in range(5)]
        )
    ]
    with anyio.fail_after(10):
        while len(counts(read_ledger(ledger_path), "start")) < 5:
            await anyio.sleep(0.05)
    frozen.signal(signal.SIGSTOP)
    frozen_name = (await app.get_job(ids[0])).worker
    rescuer = workers(redis_url, concurrency=10, log_path=tmp_path / "rescuer.log")
    statuses = await _wait_terminal(app, ids, 20)
    assert set(statuses.values()) == {JobStatus.SUCCEEDED}
    for job_id in ids:
        job = await app.get_job(job_id)
        assert job.worker != frozen_name and job.run == 2
    frozen.signal(signal.SIGCONT)
    log = tmp_path / "frozen.log"
    with anyio.fail_after(10):
        while log.read_text().count("fenced off") < 5:
            await anyio.sleep(0.1)
    for job_id in ids:  # the late outcomes did not overwrite the newer attempts
        job = await app.get_job(job_id)
        assert job.status is JobStatus.SUCCEEDED and job.worker != frozen_name
    # The thawed node works again once its heartbeat has renewed its lease.
    rescuer.terminate()
    more = await app.enqueue("ledger.work", {"seconds": 0.01})
    assert (await app.wait_for(more, timeout_s=10)).worker == frozen_name
    await assert_queue_drained(redis_client)


async def test_a_60_s_job_with_a_5_s_visibility_timeout_runs_exactly_once(
    client: App,
    redis_url: str,
    redis_client: Redis,
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
) -> None:
    env = {"STREAMQ_VISIBILITY_TIMEOUT_MS": "5000", "STREAMQ_RECLAIM_INTERVAL_MS": "500"}
    app = client
    job_id = await app.enqueue("ledger.work", {"seconds": 60}, timeout=120)
    workers(redis_url, concurrency=5, env=env)
    workers(redis_url, concurrency=5, env=env)  # a second node, eager to reclaim
    job = await app.wait_for(job_id, timeout_s=80, poll_s=0.5)
    assert job.status is JobStatus.SUCCEEDED
    ledger = read_ledger(ledger_path)
    assert counts(ledger, "start") == {job_id: 1}
    assert counts(ledger, "done") == {job_id: 1}
    assert job.run == 1 and job.deliveries == 1
    await assert_queue_drained(redis_client)
