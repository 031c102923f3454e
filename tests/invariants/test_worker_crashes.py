"""Invariant 2 for long jobs: a job longer than the visibility timeout keeps its lease.

The worker-fault scenarios (SIGKILL loop, SIGSTOP past the lease, SIGTERM hand-over) moved
to tests/chaos/test_worker_faults.py, where they run under load with the ledger checker.
Workers are real processes; handlers write a ledger that survives SIGKILL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from streamq import App, JobStatus
from tests.support.checker import queue_leftovers
from tests.support.ledger import counts, read_ledger
from tests.support.procs import WorkerProcess

pytestmark = pytest.mark.chaos


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
    job = await app.wait_for(job_id, timeout_s=80)
    assert job.status is JobStatus.SUCCEEDED
    ledger = read_ledger(ledger_path)
    assert counts(ledger, "start") == {job_id: 1}
    assert counts(ledger, "done") == {job_id: 1}
    assert job.run == 1 and job.deliveries == 1
    assert await queue_leftovers(redis_client) == {}
