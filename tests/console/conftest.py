"""Fixtures of the console tests: a real API process and worker process on the test's
private Redis, and headless Chromium (Debian's, never a downloaded one) driven by
Playwright, with every request checked to stay on this machine."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from streamq import App, Settings
from tests.support.fixtures import apis, workers  # noqa: F401 - fixtures
from tests.support.procs import ApiProcess, WorkerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
APP_SPEC = "tests.console.tasks:app"
FAST = {
    "STREAMQ_VISIBILITY_TIMEOUT_MS": "3000",
    "STREAMQ_FETCH_BLOCK_MS": "200",
}


@dataclass
class Stack:
    """An API and a worker on a private Redis, and an App to seed and check with."""

    api: ApiProcess
    worker: WorkerProcess | None
    client: App
    fail_switch: Path

    @property
    def ui(self) -> str:
        return f"{self.api.url}/ui/"


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: `STREAMQ_CONSOLE_ARTIFACTS` when set, else the test's tmp."""
    target = Path(os.environ.get("STREAMQ_CONSOLE_ARTIFACTS", tmp_path / "artifacts"))
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
async def start_stack(
    redis_url: str, tmp_path: Path, apis: Callable[..., ApiProcess],  # noqa: F811
    workers: Callable[..., WorkerProcess],  # noqa: F811
) -> AsyncIterator[Callable[..., Any]]:
    clients: list[App] = []

    async def start(worker: bool = True, concurrency: int = 20,
                    env: dict[str, str] | None = None) -> Stack:
        switch = tmp_path / "fail-switch"
        switch.touch()
        common = {**FAST, "STREAMQ_TEST_FAIL_SWITCH": str(switch), **(env or {})}
        api = apis(redis_url, app_spec=APP_SPEC, env=common)
        node = workers(redis_url, app_spec=APP_SPEC, concurrency=concurrency,
                       env=common) if worker else None
        from tests.console import tasks

        client = App(Settings(redis_url=redis_url))
        client.tasks.update(tasks.app.tasks)
        client.crons.update(tasks.app.crons)
        clients.append(client)
        return Stack(api, node, client, switch)

    yield start
    for client in clients:
        await client.close()


@dataclass
class Browser:
    """A Chromium page whose every request is recorded (and refused if not local)."""

    page: Any
    context: Any
    hosts: set[str] = field(default_factory=set)
    outside: list[str] = field(default_factory=list)


@pytest.fixture
async def browser() -> AsyncIterator[Callable[..., Any]]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        opened: list[Any] = []

        async def open_page(local: str, **options: Any) -> Browser:
            context = await chromium.new_context(viewport={"width": 1280, "height": 860},
                                                 **options)
            opened.append(context)
            page = await context.new_page()
            b = Browser(page, context)
            allowed = urlsplit(local).netloc

            async def check(route: Any) -> None:
                host = urlsplit(route.request.url).netloc
                b.hosts.add(host)
                if host != allowed and not route.request.url.startswith("data:"):
                    b.outside.append(route.request.url)
                    await route.abort()
                else:
                    await route.continue_()

            await context.route("**/*", check)
            return b

        try:
            yield open_page
        finally:
            for context in opened:
                await context.close()
            await chromium.close()


def job_ids_in(html: str) -> list[str]:
    import re

    return re.findall(r'<tr data-job-id="([^"]+)"', html)
