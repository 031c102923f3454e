"""Live updates: a job finishing while its page is open shows within a second, without
a reload; the event stream resumes after the last event seen; a hidden tab stops
listening."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import anyio

from streamq.job import JobStatus
from tests.console.conftest import Stack


async def test_a_job_finishing_updates_its_open_page_within_a_second(
    start_stack: Any, browser: Any
) -> None:
    stack: Stack = await start_stack()
    job_id = await stack.client.enqueue("console.sleep", {"seconds": 1.5})
    b = await browser(stack.ui)
    page = b.page
    with anyio.fail_after(10):
        while (await stack.client.get_job(job_id)).status is not JobStatus.PROCESSING:
            await anyio.sleep(0.02)
    await page.goto(stack.ui + f"jobs/{job_id}")
    assert await page.locator("#job-status [data-status]").get_attribute(
        "data-status") == "processing"
    await page.wait_for_selector("body[data-live-state=open]", state="attached")
    await page.evaluate("window.__sameDocument = true")
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    with anyio.fail_after(10):
        while (job := await stack.client.get_job(job_id)).status is JobStatus.PROCESSING:
            await anyio.sleep(0.01)
    finished = time.monotonic()
    assert job.status is JobStatus.SUCCEEDED
    await page.wait_for_selector("#job-status [data-status=succeeded]", timeout=1000)
    shown_after = time.monotonic() - finished
    assert shown_after < 1.0, f"the page showed the outcome {shown_after:.2f} s later"
    assert await page.evaluate("window.__sameDocument") is True
    assert navigations == []
    assert await page.locator("#result").inner_text() == '"slept"'

    # A hidden tab closes its event stream; visible again, it reopens and catches up.
    await page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    assert await page.evaluate("document.body.dataset.liveState") == "paused"
    await page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    await page.wait_for_selector("body[data-live-state=open]", state="attached")
    assert b.outside == []


async def _next_event(resp: aiohttp.ClientResponse) -> dict[str, str]:
    event: dict[str, str] = {}
    while True:
        line = (await resp.content.readline()).decode().rstrip("\n")
        if not line:
            if "event" in event:
                return event
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(": ")
        event[name] = value


async def test_the_event_stream_resumes_after_the_last_event_id(start_stack: Any) -> None:
    stack: Stack = await start_stack(worker=False)
    async with aiohttp.ClientSession() as http:
        async with http.get(stack.ui + "live") as resp:
            assert resp.headers["Content-Type"] == "text/event-stream"
            first = await stack.client.enqueue("console.ok", {"n": 1})
            with anyio.fail_after(5):
                event = await _next_event(resp)
        assert first in event["data"]
        last_id = event["id"]
        # Changes while disconnected are not lost: they come first after resuming.
        missed = [await stack.client.enqueue("console.ok", {"n": i}) for i in range(3)]
        async with http.get(stack.ui + "live", headers={"Last-Event-ID": last_id}) as resp:
            seen: list[str] = []
            with anyio.fail_after(5):
                while not all(m in " ".join(seen) for m in missed):
                    seen.append((await _next_event(resp))["data"])
        assert first not in " ".join(seen)
        # Watching one job: other jobs' changes are not sent.
        async with http.get(stack.ui + "live", params={"job": missed[0]}) as resp:
            await stack.client.enqueue("console.ok", {"n": 5})
            await stack.client.cancel(missed[0])
            with anyio.fail_after(5):
                event = await _next_event(resp)
            assert '"jobs":["' + missed[0] + '"]' in event["data"]
