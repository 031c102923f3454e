"""The trail completers leave: per-minute counters that stay bounded, and kept attempts,
including an outcome fenced off as stale, shown as such on the job page."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from streamq import App, Settings
from streamq.api import create_app
from streamq.job import Delivery, Outcome, OutcomeKind
from streamq.store.codes import FinishCode
from streamq.store.trail import WINDOW_MIN, Trail
from tests.console import tasks


def _outcome(job_id: str, kind: OutcomeKind, run: int = 1, error: str = "") -> Outcome:
    d = Delivery("default", "normal", b"1-0", job_id, "console.ok", b"{}", 5.0, 0, 1, 0, run)
    return Outcome(d, kind, error=error, error_type="ValueError" if error else "",
                   traceback="Traceback: ..." if error else "", duration_s=0.25)


async def test_minute_counters_stay_within_the_last_hour(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    app = App(settings_for())
    trail = Trail(app.store)
    start = int(time.time() * 1000)
    for minute in range(0, 300, 7):  # five hours of batches, one every 7 minutes
        now = start + minute * 60_000
        batch = [_outcome("a", OutcomeKind.SUCCEEDED), _outcome("b", OutcomeKind.RETRY, 1, "x")]
        await trail.record(batch, [FinishCode.APPLIED, FinishCode.APPLIED], "node-1", now)
    fields = await redis_client.hkeys(app.store.keys("default").stats)
    assert len(fields) <= 2 * 66  # at most ~an hour of minutes, two kinds each
    assert 0 < await redis_client.ttl(app.store.keys("default").stats) <= 65 * 60
    minutes = (await trail.minutes(["default"], now))["default"]
    assert len(minutes) == WINDOW_MIN
    assert sum(m.ok for m in minutes) == sum(m.err for m in minutes) == 9  # 60 / 7
    await app.close()


async def test_a_stale_outcome_is_kept_and_shown_as_such(
    settings_for: Callable[..., Settings], browser: Any
) -> None:
    app = App(settings_for())
    app.tasks.update(tasks.app.tasks)
    job_id = await app.enqueue("console.ok", {"n": 3})
    trail = Trail(app.store)
    await trail.record(
        [_outcome(job_id, OutcomeKind.RETRY, 1, "boom 1"),
         _outcome(job_id, OutcomeKind.SUCCEEDED, 1)],
        [FinishCode.APPLIED, FinishCode.STALE], "node-old",
    )
    kept = await trail.attempts("default", job_id)
    assert [(a["outcome"], a["stale"]) for a in kept] == [("retry", False), ("succeeded", True)]
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(app)))
    await client.start_server()
    try:
        ui = str(client.make_url("/ui/"))
        b = await browser(ui)
        await b.page.goto(ui + f"jobs/{job_id}")
        rows = b.page.locator("#attempts tbody tr")
        assert await rows.count() == 2
        assert await rows.nth(1).get_attribute("data-stale") == "1"
        assert "stale outcome, fenced off" in await rows.nth(1).inner_text()
        assert "boom 1" in await rows.nth(0).inner_text()
        await b.context.close()  # ends its event stream before the server stops
    finally:
        await client.close()
        await app.close()
