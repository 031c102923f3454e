"""The README's first hour, run as written: `streamq dev` prints where everything is and
a curl to paste, and every README block marked `<!-- runs against streamq dev -->` runs
against it in bash, with the `export` line `streamq dev` printed.

Only what a shared test machine must change is changed: the API listens on a free port
instead of 8000 (`localhost:8000` in the blocks is rewritten to it), and curl is run with
`--fail-with-body`, so an HTTP error fails the block.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamq.devredis import free_port

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- runs against streamq dev -->"
PRELUDE = 'curl() { command curl -sS --fail-with-body "$@"; }\n'


def marked_blocks() -> list[str]:
    """The shell blocks of the README that follow the marker."""
    text = (ROOT / "README.md").read_text()
    return re.findall(re.escape(MARKER) + r"\n```sh\n(.*?)\n```", text, flags=re.S)


class Dev:
    """`python -m streamq dev` on a free port, its output read line by line."""

    def __init__(self, cwd: Path) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMQ_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamq", "dev", "--port", str(self.port)], cwd=cwd,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, pattern: str, timeout_s: float = 30) -> str:
        """The first line so far, or from now on, that matches `pattern`."""
        for line in self.seen:
            if re.search(pattern, line):
                return line
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.seen))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self.reader.join(5)
            assert self.process.stdout is not None
            self.process.stdout.close()


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Dev, dict[str, str]]]:
    """streamq dev, and the environment of a second terminal: the venv's `bin` first on
    PATH (as `. .venv/bin/activate` does) and the pasted `export` line."""
    server = Dev(tmp_path_factory.mktemp("dev"))
    try:
        export = server.wait_for_line(r"^  export STREAMQ_REDIS_URL=")
        url = export.split("=", 1)[1]
        env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               "HOME": os.environ.get("HOME", "/tmp"), "STREAMQ_REDIS_URL": url}
        yield server, env
    finally:
        assert server.stop() == 0
        server.wait_for_line("stopped the private redis-server", timeout_s=5)


def bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", PRELUDE + script], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=60)


def test_dev_prints_the_export_line_the_api_and_a_curl_that_works(
    dev: tuple[Dev, dict[str, str]], tmp_path: Path
) -> None:
    server, env = dev
    api = server.wait_for_line(r"^API ")
    assert api.split() == ["API", f"http://127.0.0.1:{server.port}"]
    assert any(re.fullmatch(r"Redis +redis://127\.0\.0\.1:\d+/0 \(private, stopped on exit\)",
                            line) for line in server.seen), server.seen
    curl = server.wait_for_line(r"^  curl ").strip()
    assert '"type": "demo.add"' in curl
    result = bash(curl, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"type":"demo.add","payload":{"a":1,"b":2}' in result.stdout


def test_readme_blocks_run_as_written(dev: tuple[Dev, dict[str, str]], tmp_path: Path) -> None:
    server, env = dev
    blocks = marked_blocks()
    assert len(blocks) >= 4, "the README lost its tested examples"
    outputs = []
    for block in blocks:
        script = block.replace("localhost:8000", f"127.0.0.1:{server.port}")
        result = bash(script, env, tmp_path)
        assert result.returncode == 0, f"{block}\n--- stdout\n{result.stdout}\n--- stderr\n" \
                                       f"{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
        outputs.append(result.stdout + result.stderr)
    quick_start, http_api, *_ = outputs
    assert "did you mean 'demo.add'?" in quick_start
    assert "retries exhausted" in quick_start and "Redis: redis://127.0.0.1:" in quick_start
    assert "HTTP/1.1 202 Accepted" in http_api
    assert '"status":"scheduled"' in http_api  # a cancelled delayed job retried
