"""Tasks run by worker subprocesses in the job control tests (`tests.ops.tasks:app`).

Handlers record their steps in the ledger (tests/support/ledger.py), so a test can see
what ran in another process, cleanup included."""

from __future__ import annotations

import asyncio
import os

import anyio

from streamq import App, Context
from tests.support.ledger import record

app = App()


if os.environ.get("STREAMQTEST_CRON"):

    @app.cron("* * * * * *", name="control.tick")
    async def tick(ctx: Context) -> str:
        record("tick", ctx)
        return ctx.job_id


@app.task("control.long", max_retries=0, timeout=120)
async def long_job(seconds: float, ctx: Context) -> str:
    """Sleeps; records its start, its cancellation and its cleanup."""
    record("start", ctx)
    try:
        await anyio.sleep(seconds)
    except asyncio.CancelledError:
        record("cancelled", ctx)
        raise
    finally:
        record("cleanup", ctx)
    return ctx.job_id
