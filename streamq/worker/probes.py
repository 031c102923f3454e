"""A worker's HTTP port (`--metrics-port`): /metrics, and /livez and /readyz for probes.

Served from a daemon thread like prometheus_client's own server, so a busy event loop
cannot delay a scrape. /readyz is 503 while the node's history archive is unreachable:
the node still runs jobs, but it cannot do its share of archiving.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import orjson
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from ..history.health import ARCHIVE_HEALTH, ArchiveHealth
from ..metrics import REGISTRY

StartResponse = Callable[..., Any]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds are not worth a log line each."""


def probes_app(health: ArchiveHealth = ARCHIVE_HEALTH) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(REGISTRY)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/livez", "/healthz"):
            return _json(start_response, 200, {"status": "ok"})
        if path == "/readyz":
            ready, history = health.status()
            body = {"status": "ready" if ready else "unready",
                    "history": None if not health.enabled else history}
            return _json(start_response, 200 if ready else 503, body)
        return metrics(environ, start_response)  # type: ignore[no-any-return]

    return app


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    reason = "OK" if status == 200 else "Service Unavailable"
    start_response(f"{status} {reason}", [("Content-Type", "application/json")])
    return [orjson.dumps(body)]


def serve_probes(host: str, port: int) -> ThreadingWSGIServer:
    """Start serving in a daemon thread; returns the server (shutdown() stops it)."""
    server = make_server(host, port, probes_app(), ThreadingWSGIServer, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True, name="probes").start()
    return server
