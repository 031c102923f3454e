"""streamq on a primary found through Redis Sentinel (a primary, a replica and three
sentinels): producing through the library, the API and the CLI, one worker node, and an
unknown service as an outage."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner

from streamq import App, BackendUnavailable, Settings
from streamq.api import create_app
from streamq.cli import main
from streamq.keys import QueueKeys
from tests.support.nodes import running_node
from tests.support.topology import LocalSentinel

from . import tasks
from .tasks import QUEUES, make_app


async def test_a_node_runs_jobs_on_the_primary_the_sentinels_name(
    sentinel: LocalSentinel, sentinel_app: App
) -> None:
    ids = [await sentinel_app.enqueue(f"{q}.run", {"n": i}) for i, q in enumerate(QUEUES)]
    with redis.Redis(port=sentinel.current_primary()) as direct:
        assert direct.exists(QueueKeys("streamq", "emails").job(ids[0]))
    doomed = await sentinel_app.enqueue("images.run", {"n": 9, "fail": True})
    await sentinel_app.pause("billing")
    async with running_node(sentinel_app, concurrency=4):
        for i, job_id in enumerate(ids[:2]):
            assert (await sentinel_app.wait_for(job_id, timeout_s=10)).result == i
        assert (await sentinel_app.wait_for(doomed, timeout_s=10)).status == "failed"
        await sentinel_app.resume("billing")
        assert (await sentinel_app.wait_for(ids[2], timeout_s=10)).status == "succeeded"
    assert [e.job_id for e in (await sentinel_app.dlq_list()).entries] == [doomed]
    listed = await sentinel_app.list_jobs(status="succeeded")
    assert {j.id for j in listed.jobs} == set(ids)


async def test_the_api_through_sentinel(
    sentinel: LocalSentinel, settings_on: Callable[..., Settings]
) -> None:
    app = make_app(settings_on(sentinel.url))
    client: TestClient = TestClient(TestServer(create_app(app)))  # type: ignore[type-arg]
    await client.start_server()
    try:
        assert (await client.get("/readyz")).status == 200
        response = await client.post("/jobs", json={"type": "emails.run", "payload": {"n": 1}})
        assert response.status == 202, await response.text()
        job_id = (await response.json())["id"]
        assert (await client.delete(f"/jobs/{job_id}")).status == 200
        assert (await (await client.get(f"/jobs/{job_id}")).json())["status"] == "cancelled"
        assert (await client.get("/queues")).status == 200
    finally:
        await client.close()
        await app.close()


def test_the_cli_through_sentinel(
    sentinel: LocalSentinel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "app", make_app(Settings(redis_url=sentinel.url)))
    env: dict[str, str | None] = {"STREAMQ_REDIS_URL": sentinel.url,
                                  "STREAMQ_APP": "tests.cluster.tasks:app"}
    result = CliRunner().invoke(main, ["enqueue", "images.run", "--payload", '{"n": 2}'],
                                env=env)
    assert result.exit_code == 0, result.output
    shown = CliRunner().invoke(main, ["job", result.output.strip(), "--json"], env=env)
    assert json.loads(shown.output)["queue"] == "images"
    inspected = CliRunner().invoke(main, ["inspect", "--queue", "images"], env=env)
    assert "SENTINEL get-master-addr-by-name streamq" in inspected.output


async def test_an_unknown_service_is_an_outage(
    sentinel: LocalSentinel, settings_on: Callable[..., Settings]
) -> None:
    url = sentinel.url.rsplit("/", 1)[0] + "/no-such-service"
    async with make_app(settings_on(url)) as app:
        with pytest.raises(BackendUnavailable, match="No master found for 'no-such-service'"):
            await app.ping()
        client: TestClient = TestClient(TestServer(create_app(app)))  # type: ignore[type-arg]
        await client.start_server()
        try:
            assert (await client.get("/readyz")).status == 503
            response = await client.post("/jobs", json={"type": "emails.run",
                                                        "payload": {"n": 1}})
            assert response.status == 503
        finally:
            await client.close()


def test_the_cli_exits_4_on_an_unknown_service(sentinel: LocalSentinel) -> None:
    url = sentinel.url.rsplit("/", 1)[0] + "/no-such-service"
    env: dict[str, str | None] = {"STREAMQ_REDIS_URL": url, "STREAMQ_APP": None,
                                  "STREAMQ_REDIS_TIMEOUT_S": "2"}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 4 and len(result.output.strip().splitlines()) == 1, result.output


async def test_servers_and_sentinels_with_passwords_of_their_own(
    tmp_path: Path, settings_on: Callable[..., Settings]
) -> None:
    """The URL's password opens the servers, `sentinel_password` the sentinels; without
    the latter the sentinels cannot be asked and Redis is unavailable. Neither password
    shows in a message."""
    setup = LocalSentinel(tmp_path, password="data-s3cret",
                          sentinel_password="sentinel-s3cret").start()
    try:
        async with make_app(settings_on(setup.url)) as app:
            job_id = await app.enqueue("emails.run", {"n": 5})
            async with running_node(app, concurrency=2):
                assert (await app.wait_for(job_id, timeout_s=10)).result == 5
        no_sentinel_password = setup.url.split("?", 1)[0]
        async with make_app(settings_on(no_sentinel_password)) as app:
            with pytest.raises(BackendUnavailable, match="No master found") as caught:
                await app.ping()
            assert "s3cret" not in str(caught.value)
    finally:
        setup.stop()
    with pytest.raises(ValueError) as refused:
        Settings(redis_url=setup.url.replace("/streamq?", "?"))  # no service
    assert "s3cret" not in str(refused.value)
