"""The API and the CLI against a running worker process: the whole path of a job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from streamq.devredis import free_port
from tests.api.conftest import Client, StartApi
from tests.api.problems import assert_problem
from tests.support.procs import WorkerProcess

APP = "tests.api.tasks:app"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(redis_url: str, tmp_path: Path) -> Iterator[tuple[WorkerProcess, int]]:
    port = free_port()
    process = WorkerProcess(redis_url, APP, concurrency=4, args=("--metrics-port", str(port)),
                            log_path=tmp_path / "worker.log").start()
    try:
        yield process, port
    finally:
        process.stop()


def cli(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STREAMQ_REDIS_URL": redis_url, "STREAMQ_APP": APP}
    return subprocess.run([sys.executable, "-m", "streamq", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


async def wait_for(api: Client, job_id: str, *statuses: str, timeout_s: float = 10) -> Any:
    with anyio.fail_after(timeout_s):
        while True:
            job = await (await api.get(f"/jobs/{job_id}")).json()
            if job["status"] in statuses:
                return job
            await anyio.sleep(0.05)


async def submit(api: Client, body: dict[str, Any]) -> str:
    response = await api.post("/jobs", json=body)
    assert response.status == 202, await response.text()
    job_id: str = (await response.json())["id"]
    return job_id


async def test_submit_status_list_via_api_and_cli(
    api: Client, worker: tuple[WorkerProcess, int], redis_url: str
) -> None:
    job_id = await submit(api, {"type": "math.add", "payload": {"a": 2, "b": 3}})
    assert (await wait_for(api, job_id, "succeeded"))["result"] == 5
    enqueued = cli(redis_url, "enqueue", "math.add", "--payload", '{"a": 4, "b": 4}')
    assert enqueued.returncode == 0, enqueued.stderr
    cli_id = enqueued.stdout.strip()
    assert (await wait_for(api, cli_id, "succeeded"))["result"] == 8
    shown = json.loads(cli(redis_url, "job", cli_id, "--json").stdout)
    assert shown["status"] == "succeeded" and shown["worker"]
    listed = json.loads(cli(redis_url, "jobs", "--status", "succeeded", "--json").stdout)
    assert {j["id"] for j in listed["jobs"]} == {job_id, cli_id}
    page = await (await api.get("/jobs?status=succeeded&type=math.add")).json()
    assert {j["id"] for j in page["jobs"]} == {job_id, cli_id}
    _, port = worker
    async with aiohttp.ClientSession() as session:
        text = await (await session.get(f"http://127.0.0.1:{port}/metrics")).text()
    assert 'streamq_jobs_processed_total{outcome="succeeded",queue="default",task="math.add"}' \
        in text


async def test_cancel_running_job_and_retry_it(
    api: Client, worker: tuple[WorkerProcess, int]
) -> None:
    job_id = await submit(api, {"type": "slow.sleep", "payload": {"seconds": 30}})
    await wait_for(api, job_id, "processing")
    cancelled = await api.delete(f"/jobs/{job_id}")
    assert (await cancelled.json())["status"] == "cancelled"
    scheduled = await submit(api, {"type": "math.add", "payload": {"a": 1, "b": 1},
                                   "delay": 3})
    await api.delete(f"/jobs/{scheduled}")
    retried = await api.post(f"/jobs/{scheduled}/retry")
    assert retried.status == 202
    assert (await retried.json())["status"] == "scheduled"  # back to its own time
    assert (await wait_for(api, scheduled, "succeeded"))["result"] == 2
    await assert_problem(await api.post(f"/jobs/{scheduled}/retry"), 409, "invalid-transition")


async def test_dead_letter_requeue_and_delete(
    api: Client, worker: tuple[WorkerProcess, int], redis_url: str
) -> None:
    job_id = await submit(api, {"type": "always.fails", "payload": {"reason": "boom"}})
    assert (await wait_for(api, job_id, "failed"))["error"] == "boom"
    entries = (await (await api.get("/dlq")).json())["entries"]
    assert [e["job_id"] for e in entries] == [job_id]
    assert job_id in cli(redis_url, "dlq", "list").stdout
    requeued = await api.post(f"/dlq/{job_id}/retry")
    assert requeued.status == 202
    await wait_for(api, job_id, "failed")
    assert cli(redis_url, "dlq", "retry", job_id).returncode == 0
    await wait_for(api, job_id, "failed")
    assert cli(redis_url, "dlq", "delete", job_id).returncode == 2  # needs --yes
    assert cli(redis_url, "dlq", "delete", job_id, "--yes").returncode == 0
    await assert_problem(await api.get(f"/jobs/{job_id}"), 404, "job-not-found")
    again = await submit(api, {"type": "always.fails"})
    await wait_for(api, again, "failed")
    assert (await api.delete(f"/dlq/{again}")).status == 204
    assert (await (await api.get("/dlq")).json())["entries"] == []


async def test_pause_holds_jobs_until_resume(
    api: Client, worker: tuple[WorkerProcess, int], redis_url: str
) -> None:
    assert cli(redis_url, "queue", "pause", "default").returncode == 0
    job_id = await submit(api, {"type": "math.add", "payload": {"a": 1, "b": 2}})
    await anyio.sleep(1.5)
    assert (await (await api.get(f"/jobs/{job_id}")).json())["status"] == "queued"
    stats = json.loads(cli(redis_url, "inspect", "--json").stdout)["queues"][0]
    assert stats["paused"] and stats["workers"] == 1
    assert (await api.post("/queues/default/resume")).status == 200
    await wait_for(api, job_id, "succeeded")
    assert cli(redis_url, "check", "--min-workers", "1").returncode == 0


async def test_redis_down_then_recovery_with_a_worker(
    start_api: StartApi, own_redis: Any, tmp_path: Path
) -> None:
    api = await start_api(url=own_redis.url)
    process = WorkerProcess(own_redis.url, APP, concurrency=2,
                            log_path=tmp_path / "worker.log").start()
    try:
        first = await submit(api, {"type": "math.add", "payload": {"a": 1, "b": 1}})
        await wait_for(api, first, "succeeded")
        own_redis.kill()
        await assert_problem(await api.post("/jobs", json={"type": "math.add", "payload": {
            "a": 1, "b": 1}}), 503, "backend-unavailable")
        assert cli(own_redis.url, "check").returncode == 4
        own_redis.start()
        second = await submit(api, {"type": "math.add", "payload": {"a": 2, "b": 2}})
        assert (await wait_for(api, second, "succeeded", timeout_s=20))["result"] == 4
    finally:
        process.stop()
