"""SIGTERM: finish what fits in the grace period, hand the rest back at once, exit 0.
`--processes N` runs N nodes and forwards the signal to each."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from streamq import App, JobRequest, JobStatus
from tests.support.ledger import counts, read_ledger
from tests.support.procs import WorkerProcess

pytestmark = pytest.mark.chaos


async def test_sigterm_finishes_short_jobs_and_hands_long_ones_back(
    client: App,
    redis_url: str,
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
) -> None:
    leaving = workers(redis_url, concurrency=10, args=("--grace-period", "1.5"))
    await anyio.sleep(0.8)
    short = [
        r.job_id
        for r in await client.enqueue_many(
            [JobRequest("ledger.work", {"seconds": 0.5}) for _ in range(5)]
        )
    ]
    long = [
        r.job_id
        for r in await client.enqueue_many(
            [JobRequest("ledger.work", {"seconds": 4}, timeout=60) for _ in range(5)]
        )
    ]
    with anyio.fail_after(10):
        while len(counts(read_ledger(ledger_path), "start")) < 10:
            await anyio.sleep(0.05)
    taker = workers(redis_url, concurrency=10)
    await anyio.sleep(0.5)
    sent = time.monotonic()
    leaving.signal(signal.SIGTERM)
    assert leaving.process is not None
    code = await anyio.to_thread.run_sync(leaving.process.wait, 10)
    exit_s = time.monotonic() - sent
    assert code == 0 and exit_s < 1.5 + 1.0, exit_s
    for job_id in short:
        job = await client.get_job(job_id)
        assert job.status is JobStatus.SUCCEEDED and job.run == 1
    # The long ones were handed back: the other node starts them within a second.
    with anyio.fail_after(1.0 + 0.5):
        while True:
            starts = counts(read_ledger(ledger_path), "start")
            if all(starts[j] == 2 for j in long):
                break
            await anyio.sleep(0.05)
    for job_id in long:
        job = await client.wait_for(job_id, timeout_s=10)
        assert job.status is JobStatus.SUCCEEDED and job.worker != ""
        assert job.lost == 0 and job.attempt == 1, "a clean stop is neither a crash nor a retry"
    taker.terminate()


async def test_processes_option_runs_several_nodes_and_forwards_sigterm(
    client: App,
    redis_url: str,
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
) -> None:
    parent = workers(redis_url, concurrency=5, args=("--processes", "2"))
    ids = [
        r.job_id
        for r in await client.enqueue_many(
            [JobRequest("ledger.work", {"seconds": 0.2}) for _ in range(40)]
        )
    ]
    for job_id in ids:
        assert (await client.wait_for(job_id, timeout_s=20)).status is JobStatus.SUCCEEDED
    pids = {line.pid for line in read_ledger(ledger_path)}
    assert len(pids) == 2 and parent.pid not in pids
    assert parent.terminate(timeout_s=15) == 0
