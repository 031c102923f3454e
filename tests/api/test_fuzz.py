"""schemathesis against /openapi.json of a real `streamq api` process, at a bounded size:
no 5xx, responses as documented, and no error in the server's log."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from streamq.api.table import ROUTES
from streamq.devredis import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("STREAMQ_FUZZ_EXAMPLES", "20"))


class ApiProcess:
    def __init__(self, redis_url: str, log_path: Path, history_url: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**os.environ, "STREAMQ_REDIS_URL": redis_url, "STREAMQ_LOG_FORMAT": "json",
               "STREAMQ_MAX_BACKLOG": "100000", "STREAMQ_HISTORY_URL": history_url}
        with open(log_path, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streamq", "api", "tests.api.tasks:app",
                 "--port", str(self.port)], env=env, cwd=ROOT, stdout=out,
                stderr=subprocess.STDOUT)
        self.read_upto = 0

    def wait_ready(self, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/livez", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"API did not start: {self.log_path.read_text()}")

    def new_errors(self) -> list[str]:
        """Log lines at error level (or tracebacks) written since the last call."""
        text = self.log_path.read_text()
        fresh, self.read_upto = text[self.read_upto :], len(text)
        return [line for line in fresh.splitlines()
                if '"level":"error"' in line or '"level":"critical"' in line
                or "Traceback" in line]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope="module")
def history_db() -> Iterator[str]:
    """A migrated history archive of its own, so that /history is fuzzed for real."""
    from streamq.history import HistoryArchive
    from tests.support.postgres import create_database, drop_database

    async def create() -> str:
        url = await create_database()
        archive = HistoryArchive(url, retention_days=1)
        await archive.migrate()
        await archive.close()
        return url

    url = anyio.run(create)
    try:
        yield url
    finally:
        anyio.run(drop_database, url)


@pytest.fixture(scope="module")
def api_process(
    redis_server: RedisServer, tmp_path_factory: Any, history_db: str
) -> Iterator[ApiProcess]:
    api = ApiProcess(redis_server.url, tmp_path_factory.mktemp("fuzz") / "api.log", history_db)
    try:
        api.wait_ready()
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="module")
def api_schema(api_process: ApiProcess) -> Any:
    return schemathesis.openapi.from_url(f"{api_process.url}/openapi.json")


# schemathesis's pytest plugin does not run under pytest 9; each operation's hypothesis
# strategy is driven directly instead, one test per route of the route table.
@pytest.mark.parametrize(("method", "path"), [(r.method, r.path) for r in ROUTES],
                         ids=[f"{r.method} {r.path}" for r in ROUTES])
def test_api_fuzz(api_schema: Any, api_process: ApiProcess, method: str, path: str) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(base_url=api_process.url, excluded_checks=[
            # Schema-valid is not always acceptable: cursors are opaque tokens, run_at is
            # bounded relative to now, delay and run_at exclude each other, and a payload
            # has a byte limit; tests/api/test_jobs.py shows valid input accepted.
            positive_data_acceptance,
        ])
        assert api_process.new_errors() == []

    run()
