"""Bearer-token auth: scopes, checked before the body is read, never logged."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from tests.api.conftest import StartApi
from tests.api.problems import assert_problem

ADD = {"type": "math.add", "payload": {"a": 1, "b": 2}}
SUBMIT, ADMIN = "submit-secret-123", "admin-secret-456"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_scopes_of_submit_and_admin_tokens(start_api: StartApi) -> None:
    api = await start_api(api_submit_token=SUBMIT, api_admin_token=ADMIN)
    no_token = await api.post("/jobs", json=ADD)
    await assert_problem(no_token, 401, "unauthorized")
    assert no_token.headers["WWW-Authenticate"].startswith("Bearer")
    await assert_problem(await api.post("/jobs", json=ADD, headers=bearer("wrong")), 401,
                         "unauthorized")
    submitted = await api.post("/jobs", json=ADD, headers=bearer(SUBMIT))
    assert submitted.status == 202
    location = submitted.headers["Location"]
    assert (await api.get(location, headers=bearer(SUBMIT))).status == 200
    await assert_problem(await api.get("/jobs", headers=bearer(SUBMIT)), 403, "forbidden")
    await assert_problem(await api.delete(location, headers=bearer(SUBMIT)), 403, "forbidden")
    assert (await api.get("/jobs", headers=bearer(ADMIN))).status == 200
    assert (await api.post("/jobs", json=ADD, headers=bearer(ADMIN))).status == 202


@pytest.mark.parametrize("path", ["/livez", "/healthz", "/readyz", "/metrics"])
async def test_probes_and_metrics_stay_open(start_api: StartApi, path: str) -> None:
    api = await start_api(api_token=ADMIN)
    assert (await api.get(path)).status == 200


async def test_token_is_checked_before_the_body_is_read(
    start_api: StartApi, redis_client: Redis
) -> None:
    api = await start_api(api_token=ADMIN, api_max_body_bytes=1024)
    bad = b"{" * 5000
    response = await api.post("/jobs", data=bad, headers={"Content-Type": "application/json"})
    await assert_problem(response, 401, "unauthorized")
    assert await redis_client.dbsize() == 0


async def test_tokens_never_appear_in_logs(
    start_api: StartApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = await start_api(api_token=ADMIN)
    await api.post("/jobs", json=ADD, headers=bearer(ADMIN))
    await api.post("/jobs", json=ADD, headers=bearer(ADMIN + "x"))
    assert ADMIN not in caplog.text
