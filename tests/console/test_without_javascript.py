"""The console reads, and acts, with JavaScript turned off: plain links, GET forms for
filters, POST forms for actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from streamq import App, JobStatus, Settings
from streamq.api import create_app
from tests.console import tasks


async def test_reading_and_acting_without_javascript(
    settings_for: Callable[..., Settings], browser: Any
) -> None:
    app = App(settings_for())
    app.tasks.update(tasks.app.tasks)
    ids = [await app.enqueue("console.ok", {"n": i}, priority="low") for i in range(3)]
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(app)))
    await client.start_server()
    ui = str(client.make_url("/ui/"))
    b = await browser(ui, java_script_enabled=False)
    page = b.page
    try:
        await page.goto(ui)
        low = page.locator("article[data-queue=default] tr[data-priority=low]")
        assert (await low.locator("[data-field=waiting]").inner_text()).strip() == "3"
        await page.click("a[href$='/ui/jobs']")
        await page.select_option("select[name=priority]", "low")
        await page.fill("input[name=limit]", "2")
        await page.click("form.filters button")
        assert "priority=low" in page.url and "limit=2" in page.url
        first = await page.locator("tr[data-job-id]").evaluate_all(
            "rs => rs.map(r => r.dataset.jobId)")
        await page.click("#next-page")
        second = await page.locator("tr[data-job-id]").evaluate_all(
            "rs => rs.map(r => r.dataset.jobId)")
        assert sorted(first + second) == sorted(ids)
        await page.click(f"a[href$='/jobs/{second[0]}']")
        await page.click("#act-cancel")  # no confirm() without JavaScript: the form posts
        await page.wait_for_selector("#job-status [data-status=cancelled]")
        assert (await app.get_job(second[0])).status is JobStatus.CANCELLED
        assert b.outside == []
    finally:
        await b.context.close()
        await client.close()
        await app.close()
