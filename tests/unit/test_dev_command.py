"""`streamq dev`, the README's first command: its own Redis, worker, API, demo outcomes,
and a clean stop on SIGTERM that takes the private Redis down with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from streamq.devredis import free_port


def test_dev_runs_the_demo_serves_the_api_and_stops_on_sigterm() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMQ_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamq", "dev", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline and not any(x.startswith("  demo.broken") for x in lines):
            lines.append(proc.stdout.readline())
        assert any(x.startswith("started a private redis-server") for x in lines), lines
        outcomes = [x.split() for x in lines if x.startswith("  demo.")]
        assert ["demo.add", "succeeded", "attempts=1", "->", "5"] in outcomes, lines
        assert any(o[:3] == ["demo.flaky", "succeeded", "attempts=2"] for o in outcomes)
        assert any(o[:3] == ["demo.broken", "failed", "attempts=2"] for o in outcomes)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=5) as reply:
            assert reply.status == 200
        dashboard = f"http://127.0.0.1:{port}/ui/"
        assert any(x.split() == ["console", dashboard] for x in lines), lines
        with urllib.request.urlopen(dashboard, timeout=5) as reply:
            assert reply.status == 200 and b'data-queue="default"' in reply.read()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out
        assert "stopped the private redis-server" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
