"""A real worker process's log tells each failure's story: every failed attempt at WARNING
with its retry time, every dead letter at ERROR with its reason and traceback, in text
and as JSON fields."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import anyio

from streamq import App, JobStatus, Settings
from tests.support.fixtures import workers
from tests.support.procs import WorkerProcess

__all__ = ["workers"]


async def _run_failing_jobs(
    redis_url: str, start: Callable[..., WorkerProcess], log_format: str, log: Path
) -> dict[str, str]:
    """Enqueue one job of each failure kind (through an App without tasks, so nothing is
    checked at enqueue), let a demo worker run them all, stop it; returns their ids."""
    async with App(Settings(redis_url=redis_url)) as producer:
        jobs = {
            "flaky": await producer.enqueue("demo.flaky", {"fail_first": 1}, max_retries=3),
            "broken": await producer.enqueue("demo.broken", max_retries=1),
            "unknown": await producer.enqueue("demo.nope", {"x": 1}, max_retries=3),
            "invalid": await producer.enqueue("demo.add", {"a": "x", "b": 1}),
        }
        worker = start(redis_url, app_spec="streamq.demo:app", log_path=log,
                       env={"STREAMQ_LOG_FORMAT": log_format})
        for job_id in jobs.values():
            await producer.wait_for(job_id, timeout_s=20)
    assert worker.terminate() == 0
    return jobs


async def test_text_log_tells_each_failure(
    redis_url: str, workers: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    jobs = await _run_failing_jobs(redis_url, workers, "text", log)
    text = log.read_text()
    lines = text.splitlines()

    def line_of(job_id: str, level: str) -> str:
        found = [x for x in lines if f" {level} " in x and f"job {job_id} " in x]
        assert len(found) == 1, (job_id, level, text)
        return found[0]

    retry = line_of(jobs["flaky"], "WARNING")
    assert (f"job {jobs['flaky']} (demo.flaky) attempt 1/4 failed: RuntimeError: attempt 1 "
            "fails on purpose; retry in ") in retry
    assert f"job_id={jobs['flaky']} task=demo.flaky queue=default attempt=1" in retry
    assert "ERROR" not in "".join(x for x in lines if jobs["flaky"] in x)  # it succeeded

    broken = line_of(jobs["broken"], "ERROR")
    assert (f"job {jobs['broken']} (demo.broken) dead-lettered after attempt 2/2: retries "
            "exhausted: ValueError: this task always fails") in broken
    after = lines[lines.index(broken) + 1 :]
    below = after[: next((i for i, x in enumerate(after) if x[:2] == "20"), len(after))]
    assert below[0] == "Traceback (most recent call last):"
    assert below[-1] == "ValueError: this task always fails"
    assert (f"job {jobs['broken']} (demo.broken) attempt 1/2 failed: ValueError: this task "
            "always fails; retry in ") in line_of(jobs["broken"], "WARNING")

    unknown = line_of(jobs["unknown"], "ERROR")
    assert ("(demo.nope) dead-lettered after attempt 1/4: unknown task: UnknownTaskType: no "
            "task named 'demo.nope' on this worker (it runs demo.add, demo.broken, demo.flaky,"
            " demo.sleep)") in unknown
    invalid = line_of(jobs["invalid"], "ERROR")
    assert ("(demo.add) dead-lettered after attempt 1/4: invalid payload: ValidationError: "
            "a: Input should be a valid integer") in invalid


async def test_json_log_has_the_same_facts_as_fields(
    redis_url: str, workers: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    jobs = await _run_failing_jobs(redis_url, workers, "json", log)
    records = [json.loads(line) for line in log.read_text().splitlines()]

    def record_of(job_id: str, level: str) -> dict[str, object]:
        [found] = [r for r in records if r.get("job_id") == job_id and r["level"] == level]
        return found

    retry = record_of(jobs["flaky"], "warning")
    assert {k: retry[k] for k in ("task", "queue", "attempt", "max_attempts", "error_type",
                                  "error", "reason")} == {
        "task": "demo.flaky", "queue": "default", "attempt": 1, "max_attempts": 4,
        "error_type": "RuntimeError", "error": "attempt 1 fails on purpose", "reason": "error"}
    assert isinstance(retry["retry_in_s"], float) and 0 <= retry["retry_in_s"] <= 0.2
    assert str(retry["retry_at"]).endswith("+00:00")

    dead = record_of(jobs["broken"], "error")
    assert (dead["reason"], dead["error_type"], dead["attempt"], dead["max_attempts"]) == (
        "retries exhausted", "ValueError", 2, 2)
    traceback = str(dead["traceback"])
    assert traceback.startswith("Traceback (most recent call last):")
    assert traceback.rstrip().endswith("ValueError: this task always fails")
    assert len(traceback) <= 4000

    assert record_of(jobs["unknown"], "error")["reason"] == "unknown task"
    invalid = record_of(jobs["invalid"], "error")
    assert invalid["reason"] == "invalid payload" and "a: Input should be a valid integer" in str(
        invalid["error"])



async def test_a_job_that_kills_its_workers_is_logged_by_the_node_that_dead_letters_it(
    redis_url: str, workers: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    env = {"STREAMQ_MAX_DELIVERIES": "1", "STREAMQ_LOG_FORMAT": "json"}
    async with App(Settings(redis_url=redis_url)) as producer:
        job_id = await producer.enqueue("ledger.crash")
        crashed = workers(redis_url, env=env, log_path=tmp_path / "crashed.log")
        with anyio.fail_after(15):
            while crashed.alive():
                await anyio.sleep(0.05)
        reclaimer = workers(redis_url, env=env, log_path=tmp_path / "reclaimer.log")
        job = await producer.wait_for(job_id, timeout_s=15)
    assert (job.status, job.reason) == (JobStatus.FAILED, "lost worker")
    assert reclaimer.terminate() == 0
    records = [json.loads(line) for line in (tmp_path / "reclaimer.log").read_text().splitlines()]
    [dead] = [r for r in records if r.get("job_id") == job_id and r["level"] == "error"]
    assert dead["message"] == (
        f"job {job_id} (ledger.crash) dead-lettered: lost worker: the worker running this job "
        "was lost 1 time (STREAMQ_MAX_DELIVERIES); a job that crashes or freezes its worker "
        "ends so")
    assert (dead["task"], dead["queue"], dead["reason"], dead["error_type"]) == (
        "ledger.crash", "default", "lost worker", "LostWorker")
