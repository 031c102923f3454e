"""Every refused request: its status, its problem body, and nothing changed in Redis."""

from __future__ import annotations

import time
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.api.conftest import Client, StartApi
from tests.api.problems import assert_problem
from tests.support.redis_state import snapshot

JSON = {"Content-Type": "application/json"}
ADD = {"type": "math.add", "payload": {"a": 1, "b": 2}}


def deep(levels: int) -> str:
    nested = "[" * levels + "]" * levels
    return '{"type": "math.add", "payload": {"a": 1, "b": 2, "x": ' + nested + "}}"


BAD_BODIES: list[tuple[str, Any, dict[str, str], int, str, str | None]] = [
    ("truncated", b'{"type": ', JSON, 400, "malformed-json", None),
    ("nan", b'{"type": "math.add", "payload": {"a": NaN, "b": 1}}', JSON, 400,
     "malformed-json", None),
    ("infinity", b'{"type": "math.add", "payload": {"a": Infinity, "b": 1}}', JSON, 400,
     "malformed-json", None),
    ("deep nesting", deep(200).encode(), JSON, 400, "malformed-json", None),
    ("text/plain", b'{"type": "math.add"}', {"Content-Type": "text/plain"}, 415,
     "unsupported-media-type", None),
    ("form", b"type=math.add", {"Content-Type": "application/x-www-form-urlencoded"}, 415,
     "unsupported-media-type", None),
    ("not an object", b"[1, 2]", JSON, 422, "validation", "body"),
]

BAD_JOBS: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("unknown task", {"type": "no.such.task"}, 422, "unknown-task", "type"),
    ("payload type", {"type": "math.add", "payload": {"a": "x", "b": 1}}, 422, "validation",
     "payload"),
    ("payload missing field", {"type": "math.add", "payload": {"a": 1}}, 422, "validation",
     "payload"),
    ("payload extra field", {"type": "math.add", "payload": {"a": 1, "b": 2, "c": 3}}, 422,
     "validation", "payload"),
    ("bad priority", {**ADD, "priority": "urgent"}, 422, "validation", "priority"),
    ("negative delay", {**ADD, "delay": -1}, 422, "validation", "delay"),
    ("delay and run_at", {**ADD, "delay": 1, "run_at": time.time() + 60}, 422, "validation",
     "delay"),
    ("run_at too far", {**ADD, "run_at": "2999-01-01T00:00:00Z"}, 422, "validation", "run_at"),
    ("run_at naive", {**ADD, "run_at": "2030-01-01T00:00:00"}, 422, "validation", "run_at"),
    ("long key", {**ADD, "idempotency_key": "k" * 300}, 422, "validation", "idempotency_key"),
    ("bool retries", {**ADD, "max_retries": True}, 422, "validation", "max_retries"),
    ("zero timeout", {**ADD, "timeout": 0}, 422, "validation", "timeout"),
    ("unknown field", {**ADD, "colour": "red"}, 422, "validation", "colour"),
    ("payload too large", {"type": "email.send", "payload": {"to": "x" * 300_000,
                                                              "subject": "s"}},
     413, "payload-too-large", "payload"),
]


@pytest.mark.parametrize(("name", "body", "headers", "status", "code", "field"), BAD_BODIES,
                         ids=[c[0] for c in BAD_BODIES])
async def test_bad_body_is_refused_and_stores_nothing(
    api: Client, redis_client: Redis, name: str, body: bytes, headers: dict[str, str],
    status: int, code: str, field: str | None,
) -> None:
    before = await snapshot(redis_client)
    response = await api.post("/jobs", data=body, headers=headers)
    await assert_problem(response, status, code, field)
    assert await snapshot(redis_client) == before


@pytest.mark.parametrize(("name", "body", "status", "code", "field"), BAD_JOBS,
                         ids=[c[0] for c in BAD_JOBS])
async def test_invalid_job_is_refused_and_stores_nothing(
    api: Client, redis_client: Redis, name: str, body: dict[str, Any], status: int, code: str,
    field: str,
) -> None:
    before = await snapshot(redis_client)
    await assert_problem(await api.post("/jobs", json=body), status, code, field)
    assert await snapshot(redis_client) == before


async def test_long_idempotency_key_header_is_refused(api: Client) -> None:
    response = await api.post("/jobs", json=ADD, headers={"Idempotency-Key": "k" * 300})
    await assert_problem(response, 422, "validation", "idempotency_key")


async def test_body_over_the_size_limit_is_413(start_api: StartApi, redis_client: Redis) -> None:
    api = await start_api(api_max_body_bytes=2048)
    body = {"type": "email.send", "payload": {"to": "x" * 4000, "subject": "s"}}
    await assert_problem(await api.post("/jobs", json=body), 413, "body-too-large")
    assert await redis_client.dbsize() == 0


async def test_idempotency_conflict_is_409_and_changes_nothing(
    api: Client, redis_client: Redis
) -> None:
    first = await api.post("/jobs", json={**ADD, "idempotency_key": "k1"})
    assert first.status == 202
    before = await snapshot(redis_client)
    other = {"type": "math.add", "payload": {"a": 5, "b": 5}, "idempotency_key": "k1"}
    body = await assert_problem(await api.post("/jobs", json=other), 409,
                                "idempotency-conflict")
    assert (await first.json())["id"] in body["detail"]
    assert await snapshot(redis_client) == before


async def test_backlog_over_its_limit_is_429_with_retry_after(
    start_api: StartApi, redis_client: Redis
) -> None:
    api = await start_api(max_backlog=2)
    for _ in range(2):
        assert (await api.post("/jobs", json=ADD)).status == 202
    before = await snapshot(redis_client)
    response = await api.post("/jobs", json=ADD)
    await assert_problem(response, 429, "queue-full")
    assert int(response.headers["Retry-After"]) >= 1
    assert await snapshot(redis_client) == before


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/jobs/nope"), ("DELETE", "/jobs/nope"), ("POST", "/jobs/nope/retry"),
    ("POST", "/dlq/nope/retry"), ("DELETE", "/dlq/nope"),
])
async def test_unknown_job_is_404(api: Client, method: str, path: str) -> None:
    await assert_problem(await api.request(method, path), 404, "job-not-found")


async def test_unknown_route_and_method_are_problems(api: Client) -> None:
    await assert_problem(await api.get("/nowhere"), 404, "not-found")
    await assert_problem(await api.put("/jobs"), 405, "method-not-allowed")


@pytest.mark.parametrize(("query", "field"), [
    ("status=sleeping", "status"), ("limit=0", "limit"), ("limit=abc", "limit"),
    ("cursor=garbage", "cursor"),
])
async def test_bad_listing_query_is_422(api: Client, query: str, field: str) -> None:
    await assert_problem(await api.get(f"/jobs?{query}"), 422, "validation", field)


async def test_batch_with_one_invalid_job_stores_none(api: Client, redis_client: Redis) -> None:
    body = {"jobs": [ADD, {"type": "math.add", "payload": {"a": "x", "b": 1}}]}
    await assert_problem(await api.post("/jobs/batch", json=body), 422, "validation",
                         "jobs.1.payload")
    assert await redis_client.dbsize() == 0


async def test_batch_over_its_size_limit_is_422(start_api: StartApi) -> None:
    api = await start_api(api_max_batch_jobs=2)
    response = await api.post("/jobs/batch", json={"jobs": [ADD, ADD, ADD]})
    await assert_problem(response, 422, "validation", "jobs")
