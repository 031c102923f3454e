"""Tasks of the console tests; `app` is what the API and worker subprocesses load.

`console.fail` fails while the file named by `STREAMQ_TEST_FAIL_SWITCH` exists, so a test
can fill the dead-letter queue and then let the requeued jobs succeed."""

from __future__ import annotations

import os

import anyio

from streamq import App, Context

app = App()


@app.task("console.ok", max_retries=0)
async def ok(n: int = 0) -> dict[str, int]:
    return {"n": n, "double": 2 * n}


@app.task("console.sleep", max_retries=0, timeout=30)
async def sleep(seconds: float, ctx: Context) -> str:
    await ctx.progress(0.5, message="half way")
    await anyio.sleep(seconds)
    return "slept"


@app.task("console.fail", max_retries=0)
async def fail(order: int = 0) -> str:
    switch = os.environ.get("STREAMQ_TEST_FAIL_SWITCH", "")
    if not switch or await anyio.Path(switch).exists():
        raise ValueError(f"upstream refused order {order}")
    return "recovered"


@app.task("console.flaky", max_retries=1, retry_backoff=0.05)
async def flaky(ctx: Context) -> str:
    if ctx.attempt == 1:
        raise ConnectionError("first attempt always fails")
    return "second time lucky"


@app.task("console.limited", concurrency=1, max_retries=0)
async def limited(seconds: float = 0.0) -> None:
    await anyio.sleep(seconds)


@app.cron("0 3 * * *", name="nightly.report", misfire="run_once")
async def nightly() -> str:
    return "report"


@app.task("console.nap", max_retries=0)
async def nap(seconds: float) -> None:
    await anyio.sleep(seconds)
