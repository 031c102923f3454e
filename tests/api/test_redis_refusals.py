"""A Redis that answers but refuses to serve (MISCONF, MASTERDOWN, BUSY) is an outage
everywhere: 503 with Retry-After from the API, exit 4 from the CLI, and an unusable URL
is a 503 from /readyz, never a 500."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from streamq import App, BackendUnavailable, Settings
from streamq.api import create_app
from streamq.cli import main
from streamq.devredis import RedisServer, free_port
from tests.api.tasks import make_app

EXIT_UNAVAILABLE = 4


@pytest.fixture
def misconf(tmp_path: Path) -> Iterator[str]:
    """A server whose last background save failed while save points are on: it refuses
    every write with MISCONF (its working directory was removed under it)."""
    work = tmp_path / "gone"
    work.mkdir()
    with RedisServer(data_dir=work, appendonly=False, extra_args=("--save", "3600 1")) as srv:
        shutil.rmtree(work)
        client = redis.Redis.from_url(srv.url)
        client.bgsave()
        for _ in range(200):
            if client.info("persistence")["rdb_last_bgsave_status"] == "err":
                break
            threading.Event().wait(0.02)
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            client.set("probe", "1")
        yield srv.url


@pytest.fixture
def masterdown() -> Iterator[str]:
    """A replica whose master is gone, told not to serve stale data: MASTERDOWN."""
    with RedisServer(appendonly=False) as srv:
        client = redis.Redis.from_url(srv.url)
        client.config_set("replica-serve-stale-data", "no")
        client.replicaof("127.0.0.1", str(free_port()))
        with pytest.raises(redis.exceptions.MasterDownError):
            client.hgetall("probe")
        yield srv.url


@pytest.fixture
def busy() -> Iterator[str]:
    """A server running a script that does not end: BUSY to everyone else until killed."""
    with RedisServer(appendonly=False) as srv:
        client = redis.Redis.from_url(srv.url)
        client.config_set("busy-reply-threshold", "50")
        spinner = subprocess.Popen(
            ["redis-cli", "-p", str(srv.port), "EVAL", "while true do end", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    client.ping()
                except redis.ResponseError as exc:
                    assert str(exc).startswith("BUSY")
                    break
                threading.Event().wait(0.02)
            else:
                pytest.fail("the server never became busy")
            yield srv.url
        finally:
            redis.Redis.from_url(srv.url).script_kill()
            spinner.wait(5)


REFUSING = ["misconf", "masterdown", "busy"]


async def _api(url: str) -> tuple[App, TestClient[Any, Any]]:
    application = make_app(Settings(redis_url=url, redis_timeout_s=2.0, api_deadline_s=3.0))
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(application)))
    await client.start_server()
    return application, client


@pytest.mark.parametrize("state", REFUSING)
async def test_the_api_answers_503_with_retry_after(
    state: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(state)
    application, client = await _api(url)
    try:
        paths = [("POST", "/jobs"), ("POST", "/queues/default/pause")]
        if state != "misconf":  # MISCONF refuses writes only
            paths += [("GET", "/queues"), ("GET", "/jobs/0123456789abcdef0123456789abcdef")]
        for method, path in paths:
            body_in = {"type": "math.add", "payload": {"a": 1, "b": 2}}
            response = await client.request(method, path, json=body_in)
            body = await response.json()
            assert response.status == 503, body
            assert response.headers["Retry-After"].isdigit()
            assert response.content_type == "application/problem+json"
            assert body["code"] == "backend-unavailable"
    finally:
        await client.close()
        await application.close()


@pytest.mark.parametrize("state", REFUSING)
def test_the_cli_exits_4_with_one_line(state: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(state)
    env = {"STREAMQ_REDIS_URL": url, "STREAMQ_APP": None, "STREAMQ_REDIS_TIMEOUT_S": "2"}
    result = CliRunner().invoke(main, ["queue", "pause", "default"], env=env)
    assert result.exit_code == EXIT_UNAVAILABLE, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


async def test_readyz_is_503_when_redis_refuses_the_database(redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/4000"
    application, client = await _api(url)
    try:
        response = await client.get("/readyz")
        assert response.status == 503, await response.text()
        with pytest.raises(BackendUnavailable, match="refuses the database"):
            await application.ping()
    finally:
        await client.close()
        await application.close()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:6379", "redis://127.0.0.1:6379/zero", "redis://:6379/0",
    "redis://127.0.0.1:99999/0", "unix:///tmp/redis.sock?db=x",
])
def test_a_bad_redis_url_exits_2_with_one_line_naming_the_variable(url: str) -> None:
    result = subprocess.run(
        [os.path.join(os.path.dirname(os.sys.executable), "streamq"), "jobs"],
        env={**os.environ, "STREAMQ_REDIS_URL": url}, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: STREAMQ_REDIS_URL"), lines


async def test_pausing_an_unknown_queue_is_404(redis_url: str) -> None:
    application, client = await _api(redis_url)
    try:
        response = await client.post("/queues/no-such-queue/pause")
        body = await response.json()
        assert response.status == 404, body
        assert body["code"] == "queue-not-found"
        response = await client.post("/queues/default/pause")
        assert response.status == 200
    finally:
        await client.close()
        await application.close()
