"""With a history archive configured, the console's jobs explorer searches it: payload and
error-type filters find exactly the matching archived jobs, its pages show every match
once, an archived job opens read-only, and bad filters or a missing archive are clear
errors. Against the machine's PostgreSQL (a database of the test's own) and a real Redis."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from streamq import App, Settings
from streamq.api import create_app
from streamq.history import HistoryArchive
from streamq.history.rows import to_row
from tests.console.conftest import job_ids_in
from tests.history.conftest import archive, history_url

__all__ = ["archive", "history_url"]

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
COUNT = 240


def archived(i: int) -> dict[str, Any]:
    """Job i: customers 0-6, every third failed (alternating error types), finished times
    shared by pairs of jobs so that pages split ties."""
    status = "failed" if i % 3 == 0 else "succeeded"
    return {"id": f"hjob{i:05d}", "status": status, "customer": i % 7,
            "error_type": ("Timeout" if i % 2 else "ValueError") if status == "failed" else None,
            "finished": T0 + timedelta(seconds=i // 2)}


def fields(job: dict[str, Any]) -> dict[bytes, bytes]:
    ms = int(job["finished"].timestamp() * 1000)
    f = {"id": job["id"], "run": "1", "status": job["status"], "type": "console.ok",
         "payload": orjson.dumps({"customer": {"id": job["customer"]}, "n": 1}).decode(),
         "finished": str(ms), "priority": "normal", "attempt": "1", "max_retries": "0",
         "timeout": "5.0", "created": str(ms - 100), "started": str(ms - 50),
         "worker": "node-a"}
    if job["error_type"]:
        f |= {"error_type": job["error_type"], "error": "it broke"}
    return {k.encode(): v.encode() for k, v in f.items()}


@pytest.fixture
async def jobs(archive: HistoryArchive) -> list[dict[str, Any]]:
    made = [archived(i) for i in range(COUNT)]
    await archive.write([to_row("default", fields(j)) for j in made])
    return made


@pytest.fixture
async def console(
    settings_for: Callable[..., Settings], history_url: str, jobs: list[dict[str, Any]]
) -> AsyncIterator[TestClient[Any, Any]]:
    app = App(settings_for(history_url=history_url))
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(app)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await app.close()


async def walk(client: TestClient[Any, Any], first: str) -> tuple[list[str], int]:
    """Follow the explorer's "next page" links from `first`; every id shown, pages seen."""
    seen: list[str] = []
    url: str | None = first
    pages = 0
    while url is not None:
        resp = await client.get(url)
        html = await resp.text()
        assert resp.status == 200, html
        seen += job_ids_in(html)
        pages += 1
        found = re.search(r'<a href="([^"]+)" id="next-page"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    return seen, pages


async def test_the_explorer_pages_payload_matches_from_history_once_each(
    console: TestClient[Any, Any], jobs: list[dict[str, Any]]
) -> None:
    seen, pages = await walk(console, "/ui/jobs?source=history&payload=customer.id%3D3&limit=7")
    expected = [j["id"] for j in jobs if j["customer"] == 3]
    assert len(seen) == len(set(seen)) == len(expected) and set(seen) == set(expected)
    assert pages == len(expected) // 7 + 1
    newest_first = [j["id"] for j in sorted(
        (j for j in jobs if j["customer"] == 3), key=lambda j: (j["finished"], j["id"]),
        reverse=True)]
    assert seen == newest_first

    seen, _ = await walk(console, "/ui/jobs?source=history&status=failed&error_type=Timeout"
                                  "&payload=customer.id%3D1&limit=50")
    assert set(seen) == {j["id"] for j in jobs if j["status"] == "failed"
                         and j["error_type"] == "Timeout" and j["customer"] == 1}
    assert seen, "the filter was expected to match some jobs"


async def test_an_archived_job_opens_read_only_and_by_id(
    console: TestClient[Any, Any], jobs: list[dict[str, Any]]
) -> None:
    failed = next(j for j in jobs if j["status"] == "failed")
    resp = await console.get(f"/ui/jobs/{failed['id']}")
    html = await resp.text()
    assert resp.status == 200
    assert 'id="from-history"' in html and "it broke" in html
    assert "act-retry" not in html and "act-delete" not in html
    resp = await console.get(f"/ui/jobs?id={failed['id']}", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].endswith(f"/jobs/{failed['id']}")


@pytest.mark.parametrize(("query", "says"), [
    ("source=history&payload=no-equals-sign", "must read path=value"),
    ("source=history&status=queued", "the archive holds"),
    ("source=archive", "source must be live or history"),
    ("payload=customer.id%3D1", "history archive only"),
    ("error_type=Timeout", "history archive only"),
])
async def test_bad_history_filters_are_clear_errors(
    console: TestClient[Any, Any], query: str, says: str
) -> None:
    resp = await console.get(f"/ui/jobs?{query}")
    assert resp.status == 422
    assert says in await resp.text()


async def test_without_an_archive_the_explorer_has_no_history_source(
    settings_for: Callable[..., Settings],
) -> None:
    app = App(settings_for())
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(app)))
    await client.start_server()
    try:
        html = await (await client.get("/ui/jobs")).text()
        assert 'name="source"' not in html and 'name="payload"' not in html
        resp = await client.get("/ui/jobs?source=history")
        assert resp.status == 503 and "History archive unavailable" in await resp.text()
    finally:
        await client.close()
        await app.close()


async def test_the_browser_searches_history_through_the_form(
    console: TestClient[Any, Any], jobs: list[dict[str, Any]], browser: Any
) -> None:
    base = str(console.make_url("/ui/"))
    b = await browser(base)
    page = b.page
    await page.goto(base + "jobs")
    await page.select_option("#source", "history")
    await page.fill('input[name="payload"]', "customer.id=5")
    await page.fill('input[name="limit"]', "500")
    await page.click("form.filters button")
    await page.wait_for_selector("#history-note")
    shown = await page.eval_on_selector_all("tr[data-job-id]", "rows => rows.map("
                                            "r => r.dataset.jobId)")
    assert set(shown) == {j["id"] for j in jobs if j["customer"] == 5}
    assert "source=history" in page.url and not b.outside
