"""Tasks on two queues, for a worker process whose announced tasks the CLI reads."""

from __future__ import annotations

from streamq import App

app = App()


@app.task("mail.send", queue="mail")
async def send(to: str) -> str:
    return to


@app.task("math.double")
async def double(n: int) -> int:
    return 2 * n
