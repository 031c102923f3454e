"""Tokens, roles, CSRF and the Content-Security-Policy of the console (aiohttp against
the real API application), and the login form in a real browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streamq import Settings
from streamq.api import create_app
from streamq.api.console.security import CSP, CSRF_COOKIE
from streamq.api.console.security import Role as ConsoleRole
from streamq.api.console.views import ROUTES
from tests.console import tasks

ADMIN, SUBMIT, READ = "admin-token-1", "submit-token-2", "read-token-3"
Client = TestClient[Any, Any]


@pytest.fixture
async def secured(settings_for: Callable[..., Settings]) -> AsyncIterator[tuple[Client, str]]:
    app = tasks.app.__class__(settings_for(api_admin_token=ADMIN, api_submit_token=SUBMIT,
                                           api_read_token=READ))
    app.tasks.update(tasks.app.tasks)
    app.crons.update(tasks.app.crons)
    client: Client = TestClient(TestServer(create_app(app)))
    await client.start_server()
    job_id = await app.enqueue("console.ok", {"n": 1})
    try:
        yield client, job_id
    finally:
        await client.close()
        await app.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _csrf(client: Client, token: str) -> str:
    resp = await client.get("/ui/", headers=bearer(token))
    assert resp.status == 200
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', await resp.text())
    assert match is not None
    return match.group(1)


def _action_paths(job_id: str) -> list[str]:
    values = {"id": job_id, "action": "requeue", "name": "default"}
    out = []
    for route in ROUTES:
        if route.role is ConsoleRole.ADMIN:
            path = route.path
            for key, value in values.items():
                path = path.replace("{" + key + "}", value)
            if route.handler.__name__ == "cron_run":
                path = "/cron/nightly.report/run"
            out.append("/ui" + path)
    return out


async def test_read_only_tokens_see_everything_and_get_403_on_every_action(
    secured: tuple[Client, str],
) -> None:
    client, job_id = secured
    paths = _action_paths(job_id)
    assert len(paths) == 8
    for token in (READ, SUBMIT):
        csrf = await _csrf(client, token)
        for page in ("/ui/", "/ui/jobs", f"/ui/jobs/{job_id}", "/ui/dead", "/ui/nodes",
                     "/ui/cron"):
            resp = await client.get(page, headers=bearer(token))
            assert resp.status == 200, page
            assert "data-action=" not in await resp.text() or page == "/ui/nodes"
        for path in paths:
            resp = await client.post(path, headers=bearer(token),
                                     data={"csrf": csrf, "confirm": "yes", "payload": "{}"})
            assert resp.status == 403, path
    # Nothing changed: the job is still queued, nothing is paused.
    resp = await client.get(f"/jobs/{job_id}", headers=bearer(ADMIN))
    assert (await resp.json())["status"] == "queued"


async def test_no_token_goes_to_the_login_page_and_actions_need_a_token(
    secured: tuple[Client, str],
) -> None:
    client, job_id = secured
    resp = await client.get("/ui/jobs?status=failed", allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"].startswith("/ui/login?next=jobs")
    resp = await client.post(f"/ui/jobs/{job_id}/cancel")
    assert resp.status == 401
    resp = await client.get("/ui/", headers=bearer("wrong"), allow_redirects=False)
    assert resp.status == 303
    resp = await client.get("/ui/live")
    assert resp.status == 401


async def test_actions_need_the_form_token_and_the_same_origin(
    secured: tuple[Client, str],
) -> None:
    client, job_id = secured
    csrf = await _csrf(client, ADMIN)
    path = f"/ui/jobs/{job_id}/cancel"
    assert (await client.post(path, headers=bearer(ADMIN))).status == 403
    assert (await client.post(path, headers=bearer(ADMIN), data={"csrf": "0" * 64})).status \
        == 403
    other = {**bearer(ADMIN), "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert (await client.post(path, headers=other, data={"csrf": csrf})).status == 403
    resp = await client.post(path, headers=bearer(ADMIN), data={"csrf": csrf},
                             allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == f"/ui/jobs/{job_id}"
    resp = await client.get(f"/jobs/{job_id}", headers=bearer(ADMIN))
    assert (await resp.json())["status"] == "cancelled"


async def test_every_page_has_a_strict_policy_and_no_inline_script(
    secured: tuple[Client, str],
) -> None:
    client, job_id = secured
    for page in ("/ui/", "/ui/jobs", f"/ui/jobs/{job_id}", "/ui/dead", "/ui/nodes",
                 "/ui/cron", "/ui/login", "/ui/dead/confirm?action=delete"):
        resp = await client.get(page, headers=bearer(ADMIN))
        assert resp.status == 200, page
        assert resp.headers["Content-Security-Policy"] == CSP
        assert "unsafe" not in CSP
        assert resp.headers["X-Frame-Options"] == "DENY"
        html = await resp.text()
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(" src=" in s for s in scripts), scripts
        assert not re.search(r"<[^>]+\s(on[a-z]+|style)=", html), page
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "https://" not in html
    static = await client.get("/ui/static/htmx.min.js")
    assert static.status == 200


async def test_the_login_form_keeps_the_token_in_a_strict_httponly_cookie(
    secured: tuple[Client, str], browser: Any,
) -> None:
    client, _ = secured
    ui = str(client.make_url("/ui/"))
    b = await browser(ui)
    page = b.page
    await page.goto(ui + "jobs")
    assert "/ui/login" in page.url
    await page.fill("#token", "not-a-token")
    await page.click("#sign-in")
    assert await page.locator("#login-error").count() == 1
    await page.fill("#token", READ)
    await page.click("#sign-in")
    await page.wait_for_selector("article[data-queue=default]")
    cookies = {c["name"]: c for c in await b.context.cookies()}
    session = cookies["streamq_console"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["path"] == "/ui/"
    assert cookies[CSRF_COOKIE]["httpOnly"]
    assert "read-only" in await page.locator("header").inner_text()
    assert await page.locator("button[data-action]").count() == 0  # no controls shown
    assert b.outside == []
