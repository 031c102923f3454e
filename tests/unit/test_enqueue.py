"""Enqueue: validation against the task's signature, refusals store nothing, batches."""

from __future__ import annotations

import time
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from streamq import (
    App,
    JobRequest,
    JobStatus,
    PayloadTooLarge,
    UnknownTaskType,
    ValidationError,
)
from tests.support.redis_state import snapshot


@pytest.fixture
def tasks(app: App) -> App:
    @app.task("email.send", max_retries=3, timeout=30, priority="high")
    async def send(to: str, subject: str, retries_left: int = 2) -> dict[str, bool]:
        return {"sent": True}

    return app


async def test_enqueue_writes_the_record_and_one_stream_entry(
    tasks: App, redis_client: Redis
) -> None:
    job_id = await tasks.enqueue("email.send", {"to": "a@b.c", "subject": "hi"})
    job = await tasks.get_job(job_id)
    assert (job.status, job.type, job.priority, job.attempt) == (
        JobStatus.QUEUED, "email.send", "high", 1,
    )
    assert job.payload == {"to": "a@b.c", "subject": "hi"}
    assert (job.max_retries, job.timeout_s) == (3, 30.0)
    entries = await redis_client.xrange("streamq:{default}:stream:high")
    assert len(entries) == 1
    fields = entries[0][1]
    assert fields[b"id"] == job_id.encode() and fields[b"type"] == b"email.send"
    record = await redis_client.hgetall(f"streamq:{{default}}:job:{job_id}")
    assert record[b"status"] == b"queued"


@pytest.mark.parametrize(
    "type_, payload, options, error, field",
    [
        ("email.send", {"to": "a@b.c"}, {}, ValidationError, "payload"),
        ("email.send", {"to": 5, "subject": []}, {}, ValidationError, "payload"),
        ("email.send", {"to": "a", "subject": "b", "extra": 1}, {}, ValidationError, "payload"),
        ("email.send", ["not", "an", "object"], {}, ValidationError, "payload"),
        ("email.nope", {}, {}, UnknownTaskType, "type"),
        ("email.send", {"to": "a", "subject": "b"}, {"priority": "urgent"}, ValidationError,
         "priority"),
        ("email.send", {"to": "a", "subject": "b"}, {"delay": -1}, ValidationError, "delay"),
        ("email.send", {"to": "a", "subject": "b"}, {"delay": 1, "run_at": time.time()},
         ValidationError, "delay"),
        ("email.send", {"to": "a", "subject": "b"}, {"run_at": time.time() + 400 * 86_400},
         ValidationError, "run_at"),
        ("email.send", {"to": "a", "subject": "b"}, {"max_retries": -1}, ValidationError,
         "max_retries"),
        ("email.send", {"to": "a", "subject": "b"}, {"timeout": 0}, ValidationError, "timeout"),
        ("email.send", {"to": "a", "subject": "b"}, {"idempotency_key": "k" * 300},
         ValidationError, "idempotency_key"),
        ("email.send", {"to": "x" * 300_000, "subject": "b"}, {}, PayloadTooLarge, "payload"),
    ],
)
async def test_refused_enqueue_raises_a_clear_error_and_stores_nothing(
    tasks: App,
    redis_client: Redis,
    type_: str,
    payload: object,
    options: dict[str, object],
    error: type[Exception],
    field: str,
) -> None:
    await tasks.enqueue("email.send", {"to": "a", "subject": "b"})  # some prior state
    before = await snapshot(redis_client)
    with pytest.raises(error) as raised:
        await tasks.enqueue(type_, payload, **options)  # type: ignore[arg-type]
    assert getattr(raised.value, "field", None) == field
    assert await snapshot(redis_client) == before
    assert await redis_client.xlen("streamq:{default}:stream:high") == 1


async def test_a_batch_with_one_bad_job_stores_none_of_them(
    tasks: App, redis_client: Redis
) -> None:
    good = JobRequest("email.send", {"to": "a", "subject": "b"})
    with pytest.raises(ValidationError):
        await tasks.enqueue_many([good, good, JobRequest("email.send", {"to": "a"})])
    assert await redis_client.dbsize() == 0


async def test_enqueue_many_is_one_round_trip(
    tasks: App, redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    await tasks.enqueue("email.send", {"to": "a", "subject": "warm-up"})  # loads the script
    sent: list[int] = []
    real_execute = Pipeline.execute
    real_command = Redis.execute_command

    async def count_pipeline(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        sent.append(len(self.command_stack))
        return await real_execute(self, *args, **kwargs)

    async def count_command(self: Redis, *args: Any, **kwargs: Any) -> Any:
        sent.append(1)
        return await real_command(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", count_pipeline)
    monkeypatch.setattr(Redis, "execute_command", count_command)
    results = await tasks.enqueue_many(
        [JobRequest("email.send", {"to": f"u{i}", "subject": "s"}) for i in range(500)]
    )
    monkeypatch.undo()
    assert sent == [3], "one pipeline of three script calls (200 jobs each), nothing else"
    assert len({r.job_id for r in results}) == 500 and all(r.created for r in results)
    assert await redis_client.xlen("streamq:{default}:stream:high") == 501


async def test_delayed_job_waits_in_the_scheduled_zset(tasks: App, redis_client: Redis) -> None:
    job_id = await tasks.enqueue("email.send", {"to": "a", "subject": "b"}, delay=30)
    job = await tasks.get_job(job_id)
    assert job.status is JobStatus.SCHEDULED
    assert job.scheduled_at is not None and job.created_at is not None
    assert 29.9 < (job.scheduled_at - job.created_at).total_seconds() < 30.1
    assert await redis_client.zscore("streamq:{default}:scheduled", job_id) is not None
    assert await redis_client.exists("streamq:{default}:stream:high") == 0


async def test_get_job_of_an_unknown_id_raises_job_not_found(tasks: App) -> None:
    from streamq import JobNotFound

    with pytest.raises(JobNotFound):
        await tasks.get_job("0" * 32)
