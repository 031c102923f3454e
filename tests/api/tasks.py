"""Tasks of the API and CLI tests; `app` is what worker subprocesses run."""

from __future__ import annotations

import anyio

from streamq import App, Fail, Settings


def make_app(settings: Settings | None = None) -> App:
    app = App(settings)

    @app.task("email.send", max_retries=2, timeout=10)
    async def send_email(to: str, subject: str, body: str = "") -> dict[str, str]:
        return {"sent_to": to}

    @app.task("math.add", max_retries=0)
    def add(a: int, b: int) -> int:
        return a + b

    @app.task("slow.sleep", max_retries=0, timeout=30)
    async def sleep(seconds: float) -> str:
        await anyio.sleep(seconds)
        return "slept"

    @app.task("always.fails", max_retries=0)
    async def always_fails(reason: str = "on purpose") -> None:
        raise Fail(reason)

    return app


app = make_app()
