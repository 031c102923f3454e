"""`--processes N` runs N nodes and forwards SIGTERM to each. (SIGTERM of one node under
load, with its hand-over timed, is scenario 3 in tests/chaos/test_worker_faults.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from streamq import App, JobRequest, JobStatus
from tests.support.ledger import read_ledger
from tests.support.procs import WorkerProcess

pytestmark = pytest.mark.chaos


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
