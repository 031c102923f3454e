"""A real Prometheus (Debian's `prometheus` package) on a free port with its own data
directory, scraping given targets every second and evaluating the repository's rules;
stopped by its pid."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from streamq.devredis import free_port

BINARY = shutil.which("prometheus") or "/usr/bin/prometheus"


class PrometheusError(Exception):
    """Raised when Prometheus answers a query with an error (a bad expression, say)."""


class PrometheusServer:
    """`PrometheusServer(dir, {"streamq-api": ["127.0.0.1:8000"]}, rule_files).start()`."""

    def __init__(
        self,
        data_dir: Path,
        targets: dict[str, list[str]],
        rule_files: list[Path],
        interval_s: float = 1.0,
    ) -> None:
        self.data_dir = data_dir
        self.targets = targets
        self.rule_files = rule_files
        self.interval = f"{int(interval_s * 1000)}ms"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> dict[str, Any]:
        return {
            "global": {"scrape_interval": self.interval, "scrape_timeout": self.interval,
                       "evaluation_interval": self.interval},
            "rule_files": [str(p) for p in self.rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in self.targets.items()
            ],
        }

    def start(self, timeout_s: float = 30.0) -> PrometheusServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config()))
        log = self.data_dir / "prometheus.log"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [BINARY, f"--config.file={config}",
                 f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{self.port}",
                 "--storage.tsdb.retention.time=1d", "--log.level=warn"],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.data_dir,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"Prometheus did not start: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    # -- HTTP API ------------------------------------------------------------------------------

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; returns `data`, raises PrometheusError on an error answer."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        if body.get("status") != "success":
            raise PrometheusError(f"{body.get('errorType')}: {body.get('error')} in {params}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's series (`metric` labels and `value`)."""
        params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        data = self.api("query", **params)
        if data["resultType"] != "vector":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(
        self, expr: str, start: float, end: float, step_s: float
    ) -> list[dict[str, Any]]:
        """A range query's series (`metric` labels and `values`)."""
        data = self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                        step=f"{step_s}")
        result: list[dict[str, Any]] = data["result"]
        return result

    def label_values(self, label: str, match: str) -> list[str]:
        values: list[str] = self.api(f"label/{label}/values", **{"match[]": match})
        return values

    def wait_for(self, expr: str, what: str, timeout_s: float = 20.0) -> list[dict[str, Any]]:
        """Poll until `expr` returns a series; returns them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting until {what} ({expr})")
