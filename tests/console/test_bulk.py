"""Bulk requeue of 1,000 dead letters by error fingerprint, through the console in a real
browser: a count and a confirmation, batches with progress, and the counts reach 0."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from streamq import JobRequest
from streamq.api.console.data import fingerprint_of
from tests.console.conftest import Stack

DEAD = 1_000


async def test_bulk_requeue_by_fingerprint_empties_the_group(
    start_stack: Any, browser: Any, artifacts: Path
) -> None:
    stack: Stack = await start_stack(concurrency=50)
    c = stack.client
    results = await c.enqueue_many(
        [JobRequest("console.fail", {"order": i}) for i in range(DEAD)])
    ids = [r.job_id for r in results]
    with anyio.fail_after(30):
        while (await c.queue_stats())[0].dead < DEAD:
            await anyio.sleep(0.1)
    fp = fingerprint_of(await c.get_job(ids[0]))
    stack.fail_switch.unlink()  # from now on the task succeeds

    b = await browser(stack.ui)
    page = b.page
    await page.goto(stack.ui + "dead")
    group = page.locator(f"tr[data-fingerprint='{fp}']")
    assert (await group.locator("[data-field=count]").inner_text()).strip() == str(DEAD)
    await group.locator("a[data-action=requeue-all]").click()
    await page.wait_for_selector("#confirm-count")
    assert f"{DEAD} dead letters match" in await page.locator("#confirm-count").inner_text()
    await page.screenshot(path=str(artifacts / "dead-confirm.png"), full_page=True)
    await page.click("#confirm-go")  # refused by the browser until confirmed
    assert "/dead/confirm" in page.url
    await page.check("#confirm-box")
    await page.click("#confirm-go")
    await page.wait_for_load_state()
    assert "/bulk/" in page.url, (page.url, await page.content())
    await page.wait_for_selector("#bulk[data-state=finished]", timeout=20_000)
    assert (await page.locator("#bulk [data-field=done]").inner_text()) == str(DEAD)
    await page.screenshot(path=str(artifacts / "bulk.png"), full_page=True)

    with anyio.fail_after(30):  # requeued under the same ids, they now succeed
        for job_id in ids:
            await c.wait_for(job_id, timeout_s=30)
    assert {(await c.get_job(j)).status.value for j in ids} == {"succeeded"}
    await page.goto(stack.ui + "dead")
    assert await page.locator("#no-dead").count() == 1
    await page.goto(stack.ui)
    dead = page.locator("article[data-queue=default] [data-field=dead]")
    assert (await dead.inner_text()).strip() == "0"
    assert b.outside == []
