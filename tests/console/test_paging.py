"""The explorer pages through 20,000 jobs exactly once each while a worker keeps moving
them: exhaustively over the console's HTML pages, and a few pages in the browser."""

from __future__ import annotations

from typing import Any

import aiohttp

from streamq import JobRequest
from tests.console.conftest import Stack, job_ids_in

TOTAL = 20_000


async def _seed(stack: Stack) -> list[str]:
    ids: list[str] = []
    for _ in range(0, TOTAL, 2_000):
        batch = [JobRequest("console.nap", {"seconds": 0.05}) for _n in range(2_000)]
        ids += [r.job_id for r in await stack.client.enqueue_many(batch)]
    return ids


async def _walk(http: aiohttp.ClientSession, ui: str, first: str) -> tuple[list[str], int]:
    seen: list[str] = []
    url: str | None = ui + first
    pages = 0
    while url is not None:
        async with http.get(url) as resp:
            assert resp.status == 200
            html = await resp.text()
        seen += job_ids_in(html)
        pages += 1
        url = None
        if 'id="next-page"' in html:
            head = html.split('id="next-page"')[0]
            url = ui.split("/ui/")[0] + head.rsplit('href="', 1)[1].split('"')[0]
            url = url.replace("&amp;", "&")
    return seen, pages


async def test_every_job_is_listed_exactly_once_while_jobs_move(
    start_stack: Any, browser: Any
) -> None:
    stack: Stack = await start_stack(concurrency=10)
    seeded = await _seed(stack)
    async with aiohttp.ClientSession() as http:
        moving_before = (await stack.client.queue_stats())[0].lag
        seen, pages = await _walk(http, stack.ui, "jobs?type=console.nap&limit=1000")
        moving_after = (await stack.client.queue_stats())[0].lag
    assert moving_before > moving_after, "jobs were expected to move during the walk"
    assert len(seen) == len(set(seen)) == TOTAL and set(seen) == set(seeded)
    assert pages == TOTAL // 1000 + 1 or pages == TOTAL // 1000

    # In the browser: follow "next page" a few times; no job twice, newest first.
    b = await browser(stack.ui)
    page = b.page
    await page.goto(stack.ui + "jobs?limit=500")
    shown: list[str] = []
    for _ in range(3):
        shown += await page.locator("tr[data-job-id]").evaluate_all(
            "rs => rs.map(r => r.dataset.jobId)")
        await page.click("#next-page")
        await page.wait_for_load_state()
    assert len(shown) == len(set(shown)) == 1_500
    assert shown == list(reversed(seeded))[:1_500]
    assert b.outside == []
