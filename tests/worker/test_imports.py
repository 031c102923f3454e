"""A worker process imports only what it runs: memory and start time are mostly imports.

Each check runs in a fresh interpreter and reads its `sys.modules`: `import streamq`, and a
real `streamq worker APP --burst` that ran a job. Neither may load the HTTP server, the
console's templates, the OpenAPI generator, the CLI's tables, the history archive, the
tracing layer or croniter (unless the app declares a cron).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis

NOT_IN_A_WORKER = (
    "aiohttp",
    "jinja2",
    "croniter",
    "asyncpg",
    "streamq.api",
    "streamq.cli.render",
    "streamq.history",
    "streamq.tracing.spans",
    "opentelemetry.sdk.trace",
    "opentelemetry.propagate",
)
"""Module prefixes a worker never needs. redis-py (8.x) imports OpenTelemetry's metrics
SDK itself when it is installed, so only the tracing parts streamq would add are named."""

TASKS = """
from streamq import App
app = App()

@app.task("noop")
async def noop(i: int) -> int:
    return i
"""

CRON_TASKS = TASKS + """
@app.cron("0 * * * *")
async def hourly() -> None:
    return None
"""

WORKER = """
import sys
from streamq.cli import main
try:
    main(["worker", "tasks:app", "--burst", "-c", "100"], standalone_mode=False)
except SystemExit as exc:
    assert not exc.code, exc.code
"""


def loaded(code: str, cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    """The modules `code` left loaded in a fresh interpreter."""
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def unwanted(modules: set[str]) -> list[str]:
    return sorted(m for m in modules
                  if any(m == p or m.startswith(p + ".") for p in NOT_IN_A_WORKER))


def test_import_streamq_loads_no_server_console_or_cron_parser(tmp_path: Path) -> None:
    modules = loaded("import streamq\nstreamq.App()", tmp_path)
    assert "streamq.app" in modules
    assert unwanted(modules) == []


def run_worker(tmp_path: Path, redis_url: str, tasks: str) -> set[str]:
    (tmp_path / "tasks.py").write_text(tasks)
    with redis.Redis.from_url(redis_url) as client:
        client.flushall()
    enqueue = ("import anyio, tasks\n"
               "async def go() -> None:\n"
               "    async with tasks.app:\n"
               "        await tasks.app.enqueue('noop', {'i': 1})\n"
               "anyio.run(go)\n")
    env = {"STREAMQ_REDIS_URL": redis_url, "PATH": "/usr/bin:/bin", "PYTHONPATH": "."}
    loaded(enqueue, tmp_path, env)
    modules = loaded(WORKER, tmp_path, env)
    with redis.Redis.from_url(redis_url) as client:
        [job] = client.keys("*:job:*")
        assert client.hget(job, "status") == b"succeeded"
    return modules


@pytest.mark.timeout(90)
def test_a_worker_process_loads_only_what_it_runs(tmp_path: Path, redis_url: str) -> None:
    modules = run_worker(tmp_path, redis_url, TASKS)
    assert {"streamq.worker.node", "streamq.worker.executor"} <= modules
    assert unwanted(modules) == []


@pytest.mark.timeout(90)
def test_a_worker_with_a_cron_loads_croniter(tmp_path: Path, redis_url: str) -> None:
    modules = run_worker(tmp_path, redis_url, CRON_TASKS)
    assert unwanted(modules) == ["croniter", *sorted(m for m in modules
                                                     if m.startswith("croniter."))]
