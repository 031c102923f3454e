"""The task the cluster shard benchmark's workers run: nothing, so that the figures are
those of the queue."""

from __future__ import annotations

from streamq import App

app = App()


@app.task("bench.noop", max_retries=0)
async def noop(n: int) -> None:
    """Does nothing."""
