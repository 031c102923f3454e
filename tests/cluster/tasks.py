"""Tasks of the Redis Cluster and Sentinel tests: one per queue, on three queues whose hash
tags fall on the three primaries of a fresh local cluster (the tests check that they do)."""

from __future__ import annotations

import anyio

from streamq import App, Fail, Settings

QUEUES = ("emails", "images", "billing")


async def run(n: int, seconds: float = 0.0, fail: bool = False) -> int:
    """Sleeps `seconds`, then returns `n`, or fails for good when asked to."""
    await anyio.sleep(seconds)
    if fail:
        raise Fail(f"job {n} fails on purpose")
    return n


def make_app(settings: Settings | None = None) -> App:
    app = App(settings)
    for queue in QUEUES:
        app.task(f"{queue}.run", queue=queue, max_retries=0, timeout=30)(run)
    return app


app = make_app()
