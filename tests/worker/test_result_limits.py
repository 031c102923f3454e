"""Results are bounded: a too-large one fails its job as ResultTooLarge without a retry,
and listing pages stay small whatever the jobs' results and payloads weigh."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer

from streamq import App, JobStatus, Settings
from streamq.api import create_app
from streamq.ops.listing import PREVIEW_BYTES
from tests.support.nodes import running_node


async def test_a_result_over_the_limit_is_dead_lettered_as_result_too_large(
    settings_for: Callable[..., Settings]
) -> None:
    app = App(settings_for(max_result_bytes=1_000))
    runs: list[int] = []

    @app.task("big", max_retries=3)
    async def big(size: int) -> str:
        runs.append(size)
        return "x" * size

    try:
        small_id = await app.enqueue("big", {"size": 900})
        big_id = await app.enqueue("big", {"size": 5_000})
        async with running_node(app):
            small = await app.wait_for(small_id, timeout_s=10)
            job = await app.wait_for(big_id, timeout_s=10)
        assert small.status is JobStatus.SUCCEEDED and small.result == "x" * 900
        assert job.status is JobStatus.FAILED and job.result is None
        assert job.error_type == "ResultTooLarge" and job.reason == "result too large"
        assert "5002 bytes, over the limit of 1000" in (job.error or "")
        assert runs.count(5_000) == 1, "no retry: the result would be as large again"
        [letter] = (await app.dlq_list()).entries
        assert letter.job_id == big_id and letter.error_type == "ResultTooLarge"
    finally:
        await app.close()


async def test_listing_pages_leave_out_large_results_and_stay_bounded(
    settings_for: Callable[..., Settings]
) -> None:
    app = App(settings_for(max_result_bytes=1_048_576, max_payload_bytes=262_144))

    @app.task("heavy")
    async def heavy(blob: str, size: int) -> str:
        return "r" * size

    sizes = [10, 100_000, 900_000, 20, 300_000]
    try:
        ids = [await app.enqueue("heavy", {"blob": "p" * (200_000 if n > 50 else 5),
                                           "size": n}) for n in sizes]
        async with running_node(app):
            for job_id in ids:
                assert (await app.wait_for(job_id, timeout_s=20)).status is JobStatus.SUCCEEDED
        page = await app.list_jobs(limit=100)
        by_id = {j.id: j for j in page.jobs}
        assert set(by_id) == set(ids)
        for job_id, n in zip(ids, sizes, strict=True):
            listed = by_id[job_id]
            assert listed.result_omitted is (n > PREVIEW_BYTES)
            assert listed.payload_omitted is (n > 50)
            assert listed.result == (None if n > PREVIEW_BYTES else "r" * n)
            full = await app.get_job(job_id)
            assert full.result == "r" * n and not full.result_omitted
        body = orjson.dumps(page.model_dump(mode="json"))
        assert len(body) < len(ids) * 3 * PREVIEW_BYTES, len(body)

        client: TestClient[Any, Any] = TestClient(TestServer(create_app(app)))
        await client.start_server()
        try:
            response = await client.get("/jobs", params={"limit": "100"})
            assert response.status == 200
            assert len(await response.read()) < len(ids) * 3 * PREVIEW_BYTES
            one = await client.get(f"/jobs/{ids[2]}")
            assert (await one.json())["result"] == "r" * 900_000
        finally:
            await client.close()
    finally:
        await app.close()
