"""Every page renders in a real browser with the right numbers for seeded jobs, loads
nothing from outside this machine, and is saved as a screenshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from streamq import App
from streamq.api.console.data import fingerprint_of
from tests.console.conftest import Stack


async def _settle(client: App, job_ids: list[str]) -> None:
    with anyio.fail_after(20):
        for job_id in job_ids:
            await client.wait_for(job_id, timeout_s=20)


async def _text(page: Any, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


async def seed(stack: Stack) -> dict[str, Any]:
    """5 succeeded, 3 dead (one fingerprint), 1 retried then succeeded, 2 delayed, and
    4 waiting on a paused priority."""
    c = stack.client
    ok = [await c.enqueue("console.ok", {"n": i}) for i in range(5)]
    dead = [await c.enqueue("console.fail", {"order": 100 + i}) for i in range(3)]
    flaky = await c.enqueue("console.flaky", {})
    await _settle(c, [*ok, *dead, flaky])
    delayed = [await c.enqueue("console.ok", {"n": 9}, delay=3600) for _ in range(2)]
    await c.pause("default", priority="low")
    waiting = [await c.enqueue("console.ok", {"n": 7}, priority="low") for _ in range(4)]
    return {"ok": ok, "dead": dead, "flaky": flaky, "delayed": delayed, "waiting": waiting}


async def test_every_page_shows_the_seeded_numbers(
    start_stack: Any, browser: Any, artifacts: Path
) -> None:
    stack: Stack = await start_stack()
    jobs = await seed(stack)
    b = await browser(stack.ui)
    page = b.page

    # Overview: per queue and priority, each number with its redis-cli command. The
    # minute counters reach Redis within a second of the worker's last outcome.
    queue = page.locator("article[data-queue=default]")
    with anyio.fail_after(5):
        while True:
            await page.goto(stack.ui)
            if await _text(queue, "[data-field=ok_hour]") == "6":
                break
            await anyio.sleep(0.2)
    low = queue.locator("tr[data-priority=low]")
    assert await _text(low, "[data-field=waiting]") == "4"
    assert await _text(low, "[data-field=paused]") == "yes"
    assert await _text(queue.locator("tr[data-priority=high]"), "[data-field=paused]") == "no"
    assert await _text(queue, "[data-field=scheduled]") == "2"
    assert await _text(queue, "[data-field=dead]") == "3"
    assert await _text(queue, "[data-field=workers]") == "1"
    assert await _text(queue, "[data-field=ok_hour]") == "6"  # 5 ok + the flaky one
    assert await _text(queue, "[data-field=err_hour]") == "4"  # 3 dead + 1 retried
    command = await queue.locator("[data-field=dead]").get_attribute("title")
    assert command == "redis-cli XLEN 'streamq:{default}:dead'"
    assert await queue.locator("svg.chart").count() == 2
    await page.screenshot(path=str(artifacts / "overview.png"), full_page=True)

    # Jobs explorer: filters in the URL.
    await page.goto(stack.ui + "jobs?status=succeeded")
    rows = page.locator("tr[data-job-id]")
    assert sorted(await rows.evaluate_all("rs => rs.map(r => r.dataset.jobId)")) == sorted(
        [*jobs["ok"], jobs["flaky"]])
    await page.select_option("select[name=status]", "failed")
    await page.click("form.filters button")
    await page.wait_for_url("**/jobs?status=failed*")
    assert await rows.count() == 3
    await page.goto(stack.ui + "jobs?priority=low")
    assert await rows.count() == 4
    await page.goto(stack.ui + "jobs")
    assert await rows.count() == 15
    await page.screenshot(path=str(artifacts / "jobs.png"), full_page=True)

    # Job page of a retried job: both attempts, the first one's traceback.
    await page.goto(stack.ui + f"jobs/{jobs['flaky']}")
    attempts = page.locator("#attempts tbody tr")
    assert await attempts.count() == 2
    first = attempts.nth(0)
    assert await first.get_attribute("data-outcome") == "retry"
    assert "ConnectionError" in await first.inner_text()
    assert "first attempt always fails" in await first.locator("pre").text_content() or ""
    assert await attempts.nth(1).get_attribute("data-outcome") == "succeeded"
    assert await page.locator("#result").inner_text() == '"second time lucky"'
    timeline = await page.locator("#timeline li").evaluate_all(
        "ls => ls.map(l => l.dataset.to)")
    assert timeline == ["queued", "processing", "retrying", "queued", "processing",
                        "succeeded"]
    await page.screenshot(path=str(artifacts / "job.png"), full_page=True)

    # Dead letters grouped by fingerprint.
    dead_job = await stack.client.get_job(jobs["dead"][0])
    fp = fingerprint_of(dead_job)
    await page.goto(stack.ui + "dead")
    group = page.locator(f"tr[data-fingerprint='{fp}']")
    assert await _text(group, "[data-field=count]") == "3"
    assert "upstream refused order" in await group.locator("pre").text_content() or ""
    await page.screenshot(path=str(artifacts / "dead.png"), full_page=True)
    await page.goto(stack.ui + f"dead?fingerprint={fp}")
    assert await page.locator("#letters tr[data-job-id]").count() == 3

    # Nodes and cron.
    await page.goto(stack.ui + "nodes")
    node = page.locator("tr[data-node]")
    assert await node.count() == 1
    assert await _text(node, "[data-field=concurrency]") == "20"
    assert await _text(node, "[data-field=leases_lost]") == "0"
    await page.screenshot(path=str(artifacts / "nodes.png"), full_page=True)
    await page.goto(stack.ui + "cron")
    cron = page.locator("tr[data-cron='nightly.report']")
    assert "03:00:00" in await _text(cron, "[data-field=next]")
    assert "run_once" in await cron.inner_text()
    await page.screenshot(path=str(artifacts / "cron.png"), full_page=True)

    assert b.outside == [], f"requests left the machine: {b.outside}"
    assert b.hosts == {f"127.0.0.1:{stack.api.port}"}
