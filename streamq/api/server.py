"""Serving the API on a host and port inside an already running event loop."""

from __future__ import annotations

import anyio
from aiohttp import web

from ..app import App


def create_app(app: App) -> web.Application:
    """The aiohttp application for `app` (routes grow with the services work)."""

    async def livez(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    web_app = web.Application()
    web_app.router.add_get("/livez", livez)
    return web_app


async def serve_api(app: App, host: str, port: int) -> None:
    """Run the API until cancelled, then close its runner."""
    runner = web.AppRunner(create_app(app), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()
