"""The HTTP side: GET /jobs/{id} from the archive once Redis forgot the job (`source`),
GET /history with filters, payload paths and cursors, /readyz's archive line."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest
from aiohttp.test_utils import TestClient, TestServer

from streamq import App, JobRequest, Settings
from streamq.api import create_app
from streamq.history import HistoryArchive
from tests.api.problems import assert_problem
from tests.api.tasks import make_app
from tests.support.nodes import running_node

Client = TestClient[Any, Any]


@pytest.fixture
async def served(
    history_settings: Callable[..., Settings], archive: HistoryArchive
) -> AsyncIterator[tuple[App, Client]]:
    """The API of an app with an archive and one-second retention (tests run a node)."""
    app = make_app(history_settings(result_ttl_s=1, failed_ttl_s=1))
    client: Client = TestClient(TestServer(create_app(app)))
    await client.start_server()
    try:
        yield app, client
    finally:
        await client.close()
        await app.close()


async def forgotten(app: App, job_ids: list[str]) -> None:
    """Wait until Redis has forgotten every job (its retention is over)."""
    with anyio.fail_after(15):
        for job_id in job_ids:
            while await app.store.get_job(app.queues, job_id) is not None:
                await anyio.sleep(0.1)


async def test_a_forgotten_job_is_served_from_history(served: tuple[App, Client]) -> None:
    app, api = served
    async with running_node(app):
        await served_from_history(app, api)


async def served_from_history(app: App, api: Client) -> None:
    ok = await app.enqueue("math.add", {"a": 2, "b": 3})
    bad = await app.enqueue("always.fails", {"reason": "card 1234 declined"})
    live = {}
    for job_id in (ok, bad):
        await app.wait_for(job_id, timeout_s=10)
        response = await api.get(f"/jobs/{job_id}")
        live[job_id] = await response.json()
        assert live[job_id]["source"] == "redis"
    await forgotten(app, [ok, bad])
    for job_id in (ok, bad):
        response = await api.get(f"/jobs/{job_id}")
        assert response.status == 200
        archived = await response.json()
        assert archived["source"] == "history"
        assert {**archived, "source": "redis"} == {**live[job_id], "progress": None}
    await assert_problem(await api.get("/jobs/0123456789abcdef"), 404, "job-not-found")


async def test_history_search_filters_and_pages(served: tuple[App, Client]) -> None:
    app, api = served
    async with running_node(app):
        await search_filters_and_pages(app, api)


async def search_filters_and_pages(app: App, api: Client) -> None:
    results = await app.enqueue_many(
        [JobRequest("email.send", {"to": f"u{i % 3}@x.io", "subject": "s"}) for i in range(12)]
        + [JobRequest("always.fails", {"reason": "nope"}) for _ in range(3)])
    for r in results:
        await app.wait_for(r.job_id, timeout_s=10)
    mine = {r.job_id for i, r in enumerate(results[:12]) if i % 3 == 1}
    with anyio.fail_after(10):
        while True:
            response = await api.get("/history", params={"payload.to": "u1@x.io"})
            page = await response.json()
            if len(page["jobs"]) == len(mine):
                break
            await anyio.sleep(0.05)
    assert {j["id"] for j in page["jobs"]} == mine
    assert all(j["source"] == "history" for j in page["jobs"])
    seen: list[str] = []
    params: dict[str, Any] = {"type": "email.send", "limit": 5}
    while True:
        page = await (await api.get("/history", params=params)).json()
        seen += [j["id"] for j in page["jobs"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sorted(seen) == sorted(r.job_id for r in results[:12])
    failed = await (await api.get("/history", params={"status": "failed",
                                                      "error_type": "Fail"})).json()
    assert {j["id"] for j in failed["jobs"]} == {r.job_id for r in results[12:]}


@pytest.mark.parametrize(("query", "field"), [
    ({"status": "queued"}, "status"),
    ({"limit": "0"}, "limit"),
    ({"since": "yesterday"}, "since"),
    ({"since": "2026-01-01T00:00:00"}, "since"),
    ({"since": "200", "until": "100"}, "since"),
    ({"payload.": "1"}, "payload."),
    ({"cursor": "garbage"}, "cursor"),
])
async def test_bad_history_queries_are_422(
    served: tuple[App, Client], query: dict[str, str], field: str
) -> None:
    _, api = served
    body = await assert_problem(await api.get("/history", params=query), 422, "validation")
    assert body["field"].startswith(field)


async def test_without_an_archive_history_is_503_and_readyz_says_nothing(
    settings_for: Callable[..., Settings],
) -> None:
    app = make_app(settings_for())
    async with TestClient(TestServer(create_app(app))) as api:
        await assert_problem(await api.get("/history"), 503, "history-unavailable")
        assert await (await api.get("/readyz")).json() == {"status": "ready", "history": None}
    await app.close()


async def test_readyz_names_an_unreachable_archive_and_stays_ready(
    settings_for: Callable[..., Settings],
) -> None:
    app = make_app(settings_for(history_url="postgresql://postgres@127.0.0.1:1/none"))
    async with TestClient(TestServer(create_app(app))) as api:
        response = await api.get("/readyz")
        assert response.status == 200
        assert await response.json() == {"status": "ready", "history": "unreachable"}
        await assert_problem(await api.get("/history"), 503, "history-unavailable")
    await app.close()


async def test_readyz_says_the_archive_is_ok(served: tuple[App, Client]) -> None:
    _, api = served
    assert await (await api.get("/readyz")).json() == {"status": "ready", "history": "ok"}
