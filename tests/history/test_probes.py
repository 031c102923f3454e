"""A worker's probe port: /readyz is 503 while its archive is unreachable, /metrics and
/livez answer regardless."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from wsgiref.simple_server import make_server

from streamq.devredis import free_port
from streamq.history.health import ArchiveHealth
from streamq.worker.probes import probes_app


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return int(r.status), r.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def test_readyz_follows_the_archive() -> None:
    health = ArchiveHealth()
    port = free_port()
    server = make_server("127.0.0.1", port, probes_app(health))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert get(port, "/readyz") == (200, b'{"status":"ready","history":null}')
        health.enabled = True
        health.succeeded()
        assert json.loads(get(port, "/readyz")[1]) == {"status": "ready", "history": "ok"}
        health.failed("connection refused by 10.0.0.7:5432")
        status, body = get(port, "/readyz")
        assert status == 503 and json.loads(body)["status"] == "unready"
        assert b"10.0.0.7" not in body  # the cause is logged, not served
        assert get(port, "/livez")[0] == 200
        status, metrics = get(port, "/metrics")
        assert status == 200 and b"streamq_history_up 0.0" in metrics
        health.succeeded()
        assert get(port, "/readyz")[0] == 200
    finally:
        server.shutdown()
        server.server_close()
