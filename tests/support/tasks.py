"""Tasks run by worker subprocesses in fault tests. Each appends to a ledger file
(`STREAMQ_TEST_LEDGER`) with O_APPEND, one line per event, so that what a handler did
survives a SIGKILL of its process."""

from __future__ import annotations

import os
import time

import anyio

from streamq import App, Context

app = App()


def record(event: str, ctx: Context) -> None:
    path = os.environ.get("STREAMQ_TEST_LEDGER")
    if not path:
        return
    now_ms = int(time.time() * 1000)
    line = f"{event} {ctx.job_id} {ctx.attempt} {os.getpid()} {now_ms}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


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
