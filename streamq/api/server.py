"""Serving the API: inside a running event loop (`streamq dev`) or as its own process."""

from __future__ import annotations

import logging

import anyio
from aiohttp import web

from ..app import App
from .app import create_app

log = logging.getLogger("streamq.api")


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


def run_api(app: App, host: str, port: int) -> None:
    """`streamq api`: serve until SIGTERM or SIGINT, then finish open requests and exit."""
    log.info("API listening on http://%s:%d", host, port)
    web.run_app(
        create_app(app, owns_client=True), host=host, port=port, access_log=None,
        print=None, handle_signals=True, shutdown_timeout=5,
    )
