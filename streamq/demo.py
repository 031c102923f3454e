"""Demo tasks for `streamq dev`: a quick look at success, retries, delays and the DLQ."""

from __future__ import annotations

import asyncio
import random

from .app import App
from .context import Context

app = App()


@app.task("demo.add", max_retries=0)
async def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


@app.task("demo.sleep")
async def sleep(seconds: float, ctx: Context) -> str:
    """Sleeps, reporting progress as it goes."""
    for step in range(4):
        await asyncio.sleep(seconds / 4)
        await ctx.progress((step + 1) / 4)
    return f"slept {seconds} s"


@app.task("demo.flaky", max_retries=3, retry_backoff=0.2)
def flaky(fail_first: int, ctx: Context) -> str:
    """A plain function (runs in a thread) that fails its first attempts."""
    if ctx.attempt <= fail_first:
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")
    return f"succeeded on attempt {ctx.attempt}"


@app.task("demo.broken", max_retries=1, retry_backoff=0.1)
async def broken() -> None:
    """Always fails: ends in the dead-letter queue."""
    raise ValueError("this task always fails")


async def seed(target: App) -> list[str]:
    """Jobs that `streamq dev` enqueues at start, to show each outcome."""
    return [
        await target.enqueue("demo.add", {"a": 2, "b": 3}),
        await target.enqueue("demo.add", {"a": random.randint(1, 9), "b": 1}, priority="high"),
        await target.enqueue("demo.sleep", {"seconds": 0.4}, delay=0.5),
        await target.enqueue("demo.flaky", {"fail_first": 1}),
        await target.enqueue("demo.broken"),
    ]
