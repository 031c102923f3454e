"""Jobs run by worker processes are archived; once their Redis retention is over, every one
is still found by GET /jobs/{id} (from history), with exactly one row per (job id, run).

CI size: 2,000 jobs; `pytest -m soak tests/history`: 20,000 jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from streamq import App, JobRequest, Settings
from streamq.api import create_app
from tests.history.checks import row_counts, wait_finished, wait_rows
from tests.support.procs import WorkerProcess
from tests.support.report import Size, record, sizes

pytestmark = pytest.mark.chaos
RETENTION_S = 3


def request(i: int) -> JobRequest:
    """Mostly quick successes; every 20th fails for good after its retries."""
    if i % 20 == 0:
        return JobRequest("ledger.flaky", {"seconds": 0, "failures": 9})
    return JobRequest("ledger.work", {"seconds": 0})


@pytest.mark.parametrize("size", sizes(ci={"jobs": 2_000, "workers": 2},
                                       soak={"jobs": 20_000, "workers": 3}))
async def test_every_finished_job_is_found_from_history_after_redis_forgot_it(
    size: Size, redis_url: str, history_url: str, workers: Callable[..., WorkerProcess],
) -> None:
    env = {"STREAMQ_HISTORY_URL": history_url, "STREAMQ_RESULT_TTL_S": str(RETENTION_S),
           "STREAMQ_FAILED_TTL_S": str(RETENTION_S)}
    for _ in range(size["workers"]):
        workers(redis_url, concurrency=50, env=env, ledger=None)
    app = App(Settings(redis_url=redis_url, history_url=history_url))
    try:
        ids: list[str] = []
        for start in range(0, size["jobs"], 500):
            batch = [request(i) for i in range(start, min(size["jobs"], start + 500))]
            ids += [r.job_id for r in await app.enqueue_many(batch)]
        async with Redis.from_url(redis_url) as redis:
            drain_s = await wait_finished(redis, ids, 120)
            archive_s = await wait_rows(history_url, len(ids), 60)
            with anyio.fail_after(RETENTION_S + 30):  # Redis forgets them
                while await redis.exists(*(app.store.keys("default").job(j) for j in ids[-50:])):
                    await anyio.sleep(0.2)
        counts = await row_counts(history_url)
        assert {job_id for job_id, _ in counts} == set(ids)
        assert set(counts.values()) == {1}, "a (job id, run) archived twice"
        found = await fetch_all(app, ids)
    finally:
        await app.close()
    assert {j["source"] for j in found} == {"history"}
    assert sorted(j["id"] for j in found) == sorted(ids)
    statuses = [j["status"] for j in found]
    assert statuses.count("failed") == len(ids[::20]) and "cancelled" not in statuses
    record("history-1-archive-all", size, {"jobs": len(ids), "drain_s": round(drain_s, 2),
                                           "archived_within_s": round(archive_s, 2)})


async def fetch_all(app: App, ids: list[str]) -> list[dict[str, Any]]:
    """GET /jobs/{id} for every job, 50 at a time, through the API."""
    found: list[dict[str, Any]] = []
    async with TestClient(TestServer(create_app(app))) as api:

        async def get(job_id: str) -> None:
            response = await api.get(f"/jobs/{job_id}")
            assert response.status == 200, await response.text()
            found.append(await response.json())

        for start in range(0, len(ids), 50):
            async with anyio.create_task_group() as tg:
                for job_id in ids[start : start + 50]:
                    tg.start_soon(get, job_id)
    return found
