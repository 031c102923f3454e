"""Every error a real `streamq api` process can answer is problem+json, including those
aiohttp answers before any handler runs; and a taken port is one line, exit code 2."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.fixtures import apis
from tests.support.procs import ApiProcess

__all__ = ["apis"]

MARKER = b"<script>alert(1)</script>"


def raw_request(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are; return the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


@pytest.fixture
def api(redis_url: str, apis: Callable[..., ApiProcess]) -> ApiProcess:
    return apis(redis_url, app_spec="tests.api.tasks:app", env={"STREAMQ_LOG_FORMAT": "json"})


@pytest.mark.parametrize(("request_bytes", "status", "code"), [
    (b"GET /queues HTTP/1.1\r\nHost: x\r\nX-Big: " + b"A" * 9000 + MARKER + b"\r\n\r\n",
     431, "headers-too-large"),
    (b"GET /" + b"a" * 9000 + MARKER + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431,
     "headers-too-large"),
    (b"GET /jobs/x\x01" + MARKER + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad-request"),
    (b"POST /jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     b"Content-Type: application/json\r\n\r\nzz" + MARKER + b"\r\n", 400, "bad-request"),
])
def test_unparsable_requests_get_problems_that_do_not_echo_them(
    api: ApiProcess, request_bytes: bytes, status: int, code: str
) -> None:
    got, headers, body = raw_request(api.port, request_bytes)
    assert got == status, body
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["type"] == f"urn:streamq:problem:{code}" and problem["status"] == status
    assert MARKER not in body and b"AAAA" not in body
    log = api.log_path.read_text()
    assert MARKER.decode() not in log and '"level":"error"' not in log and "Traceback" not in log


def test_404_names_the_path_and_405_says_what_is_allowed(api: ApiProcess) -> None:
    status, headers, body = raw_request(
        api.port, b"GET /nope/here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 404 and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["detail"] == "no route for GET /nope/here"
    status, headers, body = raw_request(
        api.port, b"PUT /jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 405 and headers["allow"] == "GET, POST"
    problem = json.loads(body)
    assert problem["code"] == "method-not-allowed"
    assert problem["detail"] == "/jobs does not serve PUT; it serves GET, POST"


@pytest.mark.parametrize("command", ["api", "dev"])
def test_a_taken_port_is_one_line_and_exit_code_2(
    redis_url: str, tmp_path: Path, command: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "streamq", command, "streamq.demo:app", "--port", str(port)],
            env={"PATH": "/usr/bin:/bin", "STREAMQ_REDIS_URL": redis_url}, cwd=tmp_path,
            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr == (f"error: cannot listen on 127.0.0.1:{port}: Address already in "
                             "use; is another server running there? pick another with --port\n")


def test_a_taken_metrics_port_is_one_line_and_exit_code_2(redis_url: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "streamq", "worker", "streamq.demo:app", "--metrics-port",
             str(port)], env={"PATH": "/usr/bin:/bin", "STREAMQ_REDIS_URL": redis_url},
            cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2, result
    assert result.stderr == (f"error: cannot serve metrics on 127.0.0.1:{port}: Address "
                             "already in use\n")
