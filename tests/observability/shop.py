"""A small shop's tasks on two queues, run by the monitoring tests and the dashboard
rendering: async and thread handlers, retries that succeed, failures that dead-letter."""

from __future__ import annotations

import time

import anyio

from streamq import App, Context

app = App()


@app.task("orders.confirm", max_retries=2, retry_backoff=0.05)
async def confirm_order(ctx: Context, ms: float = 5, fail_attempts: int = 0) -> dict[str, bool]:
    """Fails its first `fail_attempts` attempts (a flaky payment service), then succeeds."""
    await anyio.sleep(ms / 1000)
    if ctx.attempt <= fail_attempts:
        raise TimeoutError("payment service did not answer")
    return {"confirmed": True}


@app.task("mail.send", queue="emails", max_retries=1, retry_backoff=0.05)
async def send_mail(ms: float = 10, bounce: bool = False) -> str:
    await anyio.sleep(ms / 1000)
    if bounce:
        raise ConnectionRefusedError("smtp server refused the recipient")
    return "sent"


@app.task("reports.build", max_retries=0)
def build_report(ms: float = 30, broken: bool = False) -> int:
    """A plain function: runs in a worker thread."""
    time.sleep(ms / 1000)
    if broken:
        raise ValueError("template has an unknown field")
    return 1
