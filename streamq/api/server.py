"""Serving the API: inside a running event loop (`streamq dev`) or as its own process.

Both serve a socket bound beforehand (`listen_socket`), so a taken port is one clear
error before anything starts, and both answer unparsable requests as problems.
"""

from __future__ import annotations

import logging
import signal
import socket

import anyio
from aiohttp import web

from ..app import App
from ..liveness import keep_touched
from .app import create_app
from .lowlevel import answer_parse_errors_with_problems

log = logging.getLogger("streamq.api")

SHUTDOWN_TIMEOUT_S = 5.0
"""How long open requests may run on after SIGTERM."""


async def serve_api(web_app: web.Application, sock: socket.socket) -> None:
    """Serve on `sock` until cancelled, then let open requests finish and close."""
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    answer_parse_errors_with_problems(runner)
    try:
        await web.SockSite(runner, sock).start()
        host, port = sock.getsockname()[:2]
        log.info("API listening on http://%s:%d", host, port)
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await runner.cleanup()


def run_api(app: App, sock: socket.socket) -> None:
    """`streamq api`: serve until SIGTERM or SIGINT, then finish open requests and exit."""

    async def main() -> None:
        s = app.settings
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with anyio.create_task_group() as tg:
                tg.start_soon(serve_api, create_app(app, owns_client=True), sock)
                if s.liveness_file:
                    tg.start_soon(keep_touched, s.liveness_file, s.liveness_interval_s)
                async for signum in signals:
                    log.info("%s: stopping the API", signal.Signals(signum).name)
                    break
                tg.cancel_scope.cancel()

    anyio.run(main)
