"""Probes, and Redis down or stalled: 503 within the deadline, then recovery."""

from __future__ import annotations

import time

from streamq.devredis import RedisServer
from tests.api.conftest import StartApi
from tests.api.problems import assert_problem

ADD = {"type": "math.add", "payload": {"a": 1, "b": 2}}


async def test_probes_answer(start_api: StartApi) -> None:
    api = await start_api()
    for path, status in [("/livez", "ok"), ("/healthz", "ok"), ("/readyz", "ready")]:
        response = await api.get(path)
        assert response.status == 200 and (await response.json())["status"] == status


async def test_redis_down_is_503_fast_then_recovers(
    start_api: StartApi, own_redis: RedisServer
) -> None:
    api = await start_api(url=own_redis.url, api_deadline_s=2.0)
    assert (await api.post("/jobs", json=ADD)).status == 202
    own_redis.kill()
    for method, path in [("POST", "/jobs"), ("GET", "/readyz"), ("GET", "/queues"),
                         ("GET", "/jobs")]:
        started = time.monotonic()
        response = await api.request(method, path, json=ADD if method == "POST" else None)
        body = await assert_problem(response, 503, "backend-unavailable")
        assert time.monotonic() - started < 2.5
        assert response.headers["Retry-After"] == "1"
        assert str(own_redis.port) not in body["detail"]  # no internal address
    assert (await api.get("/livez")).status == 200
    own_redis.start()
    assert (await api.get("/readyz")).status == 200
    assert (await api.post("/jobs", json=ADD)).status == 202


async def test_stalled_redis_is_503_within_the_deadline(
    start_api: StartApi, own_redis: RedisServer
) -> None:
    api = await start_api(url=own_redis.url, api_deadline_s=0.5)
    assert (await api.get("/readyz")).status == 200
    own_redis.pause()
    try:
        started = time.monotonic()
        await assert_problem(await api.post("/jobs", json=ADD), 503, "backend-unavailable")
        await assert_problem(await api.get("/readyz"), 503, "backend-unavailable")
        assert time.monotonic() - started < 2.0
    finally:
        own_redis.resume()
    assert (await api.get("/readyz")).status == 200
