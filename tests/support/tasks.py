"""Tasks run by worker subprocesses in fault tests. Each records its steps in the ledger
(tests/support/ledger.py), which survives a SIGKILL of its process."""

from __future__ import annotations

import os

import anyio

from streamq import App, Context
from tests.support.ledger import record

app = App()


@app.task("ledger.work", max_retries=0)
async def work(seconds: float, ctx: Context) -> str:
    """Sleeps for `seconds`, recording its start and end."""
    record("start", ctx)
    await anyio.sleep(seconds)
    record("done", ctx)
    return ctx.job_id


@app.task("ledger.flaky", max_retries=3, retry_backoff=0.05)
async def flaky(seconds: float, failures: int, ctx: Context) -> str:
    """Fails its first `failures` attempts (recorded as `fail`), then succeeds."""
    record("start", ctx)
    await anyio.sleep(seconds)
    if ctx.attempt <= failures:
        record("fail", ctx)
        raise RuntimeError(f"planned failure of attempt {ctx.attempt}")
    record("done", ctx)
    return ctx.job_id


@app.task("ledger.crash", max_retries=3)
async def crash(ctx: Context) -> None:
    """Kills its own worker process: a job no worker survives."""
    record("start", ctx)
    os.kill(os.getpid(), 9)


@app.task("ledger.note", max_retries=0)
async def note(text: str, ctx: Context) -> int:
    """Takes a string (for payload-size tests); records its start and end."""
    record("start", ctx)
    record("done", ctx)
    return len(text)
