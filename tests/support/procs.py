"""Worker nodes as real child processes, so tests can SIGKILL, SIGSTOP or SIGTERM them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.ledger import LEDGER_ENV


class WorkerProcess:
    """`python -m streamq worker APP` with its own environment, stopped by its own pid."""

    def __init__(
        self,
        redis_url: str,
        app_spec: str = "tests.support.tasks:app",
        ledger: Path | None = None,
        concurrency: int = 20,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        log_path: Path | None = None,
        module: str = "streamq",
    ) -> None:
        self.env = {
            **os.environ,
            "STREAMQ_REDIS_URL": redis_url,
            "STREAMQ_VISIBILITY_TIMEOUT_MS": "2000",
            "STREAMQ_RECLAIM_INTERVAL_MS": "250",
            "STREAMQ_FETCH_BLOCK_MS": "200",
            "STREAMQ_REDIS_TIMEOUT_S": "2",
            **(env or {}),
        }
        if ledger is not None:
            self.env[LEDGER_ENV] = str(ledger)
        self.command = [
            sys.executable, "-m", module, "worker", app_spec, "-c", str(concurrency), *args
        ]
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        cwd = Path(__file__).resolve().parents[2]
        if self.log_path is None:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT, cwd=cwd,
            )
            return self
        with open(self.log_path, "ab") as out:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL and reap: a crash, nothing flushed."""
        if self.process is not None and self.alive():
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def terminate(self, timeout_s: float = 15.0) -> int:
        """SIGTERM, wait for a graceful exit; returns the exit code."""
        assert self.process is not None
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def stop(self) -> None:
        """Whatever state it is in, make sure the process is gone."""
        if self.process is None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()


class ApiProcess:
    """`python -m streamq api APP` on a free port, with its own environment and log file,
    stopped by its own pid."""

    def __init__(
        self,
        redis_url: str,
        log_path: Path,
        app_spec: str = "tests.support.tasks:app",
        env: dict[str, str] | None = None,
    ) -> None:
        from streamq.devredis import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, "STREAMQ_REDIS_URL": redis_url, **(env or {})}
        self.command = [sys.executable, "-m", "streamq", "api", app_spec,
                        "--port", str(self.port)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20.0) -> ApiProcess:
        import time
        import urllib.request

        cwd = Path(__file__).resolve().parents[2]
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/livez", timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise AssertionError(f"API did not start: {self.log_path.read_text()[-2000:]}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.alive():
            os.kill(self.pid, signal.SIGCONT)
            self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
