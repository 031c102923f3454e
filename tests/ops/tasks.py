"""Tasks run by worker subprocesses in the job control tests (`tests.ops.tasks:app`).

Handlers append one line per event to the ledger file (`STREAMQ_TEST_LEDGER`), so a test
can see what ran in another process, cleanup included."""

from __future__ import annotations

import asyncio
import os

import anyio

from streamq import App, Context

app = App()


def record(event: str, job_id: str) -> None:
    path = os.environ.get("STREAMQ_TEST_LEDGER")
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{event} {job_id} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


if os.environ.get("STREAMQ_TEST_CRON"):

    @app.cron("* * * * * *", name="control.tick")
    async def tick(ctx: Context) -> str:
        record("tick", ctx.job_id)
        return ctx.job_id


@app.task("control.long", max_retries=0, timeout=120)
async def long_job(seconds: float, ctx: Context) -> str:
    """Sleeps; records its start, its cancellation and its cleanup."""
    record("start", ctx.job_id)
    try:
        await anyio.sleep(seconds)
    except asyncio.CancelledError:
        record("cancelled", ctx.job_id)
        raise
    finally:
        record("cleanup", ctx.job_id)
    return ctx.job_id
