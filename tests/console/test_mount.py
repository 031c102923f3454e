"""The console mounts as an aiohttp sub-application under any prefix, and its links
follow the prefix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streamq import App, Settings
from streamq.api.console import console_app
from tests.console import tasks


async def test_the_console_under_another_prefix(settings_for: Callable[..., Settings]) -> None:
    app = App(settings_for())
    app.tasks.update(tasks.app.tasks)
    job_id = await app.enqueue("console.ok", {"n": 1})
    parent = web.Application()
    parent.add_subapp("/ops/queue", console_app(app))
    client: TestClient[Any, Any] = TestClient(TestServer(parent))
    await client.start_server()
    try:
        resp = await client.get("/ops/queue/jobs")
        html = await resp.text()
        assert resp.status == 200
        assert f'href="/ops/queue/jobs/{job_id}"' in html
        assert 'src="/ops/queue/static/htmx.min.js"' in html
        assert (await client.get("/ops/queue/static/console.css")).status == 200
        assert (await client.get(f"/ops/queue/jobs/{job_id}")).status == 200
        assert "Set-Cookie" in resp.headers and "Path=/ops/queue/" in resp.headers["Set-Cookie"]
        missing = await client.get("/ops/queue/jobs/nope")
        assert missing.status == 404 and "text/html" in missing.headers["Content-Type"]
    finally:
        await client.close()
        await app.close()
