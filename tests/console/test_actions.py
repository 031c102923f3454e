"""Every action of the console, clicked in a real browser as the admin: cancel, retry
now, run now, enqueue an edited copy (refused when it breaks the task's schema),
delete, pause and resume a priority, run a cron now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from streamq import App, JobStatus, Settings
from streamq.api import create_app
from tests.console import tasks
from tests.support.nodes import running_node


async def test_every_action_in_the_browser(
    settings_for: Callable[..., Settings], browser: Any
) -> None:
    app = App(settings_for())
    app.tasks.update(tasks.app.tasks)
    app.crons.update(tasks.app.crons)
    failed = await app.enqueue("console.fail", {"order": 1})
    async with running_node(app, concurrency=2):
        await app.wait_for(failed, timeout_s=10)
    queued = await app.enqueue("console.ok", {"n": 4})
    delayed = await app.enqueue("console.ok", {"n": 5}, delay=3600)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(app)))
    await client.start_server()
    ui = str(client.make_url("/ui/"))
    b = await browser(ui)
    page = b.page
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        await page.goto(ui + f"jobs/{queued}")
        await page.click("#act-cancel")
        await page.wait_for_selector("#job-status [data-status=cancelled]")
        await page.click("#act-delete")
        await page.wait_for_url("**/ui/jobs")
        assert await page.locator(f"tr[data-job-id='{queued}']").count() == 0

        await page.goto(ui + f"jobs/{delayed}")
        await page.click("#act-run-now")
        await page.wait_for_selector("#job-status [data-status]")
        job = await app.get_job(delayed)
        assert job.scheduled_at is not None and job.created_at is not None
        assert (job.scheduled_at - job.created_at).total_seconds() < 60

        await page.goto(ui + f"jobs/{failed}")
        await page.fill("#copy-payload", '{"order": "not a number"}')
        await page.click("#act-copy")
        await page.wait_for_selector("#edit-error")
        assert "order" in await page.locator("#edit-error").inner_text()
        await page.fill("#copy-payload", '{"order": 77}')
        await page.click("#act-copy")
        await page.wait_for_selector("#payload")
        copy_id = (await page.locator("#job-id").inner_text()).strip()
        assert copy_id != failed
        assert (await app.get_job(copy_id)).payload == {"order": 77}

        await page.goto(ui + f"jobs/{failed}")
        await page.click("#act-retry")
        await page.wait_for_selector("#job-status [data-status=queued]")
        assert (await app.get_job(failed)).status is JobStatus.QUEUED

        await page.goto(ui)
        await page.click("button[data-action=pause-high]")
        await page.wait_for_selector("button[data-action=resume-high]")
        assert await app.paused("default") == ["high"]
        await page.click("button[data-action=resume-high]")
        await page.wait_for_selector("button[data-action=pause-high]")
        assert await app.paused("default") == []

        await page.goto(ui + "cron")
        await page.click("button[data-action='run-nightly.report']")
        await page.wait_for_selector("#job-id")
        fired = (await page.locator("#job-id").inner_text()).strip()
        assert (await app.get_job(fired)).type == "nightly.report"
        assert b.outside == []
    finally:
        await b.context.close()
        await client.close()
        await app.close()
