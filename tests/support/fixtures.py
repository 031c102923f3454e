"""Fixtures shared by the invariant and chaos suites (imported by their conftest files):
worker processes, servers and proxies that are always stopped by pid after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streamq import App, Settings
from streamq.devredis import RedisServer
from tests.support.procs import ApiProcess, WorkerProcess
from tests.support.proxy import Proxy


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start worker processes; every one started is stopped by pid after the test."""
    started: list[WorkerProcess] = []

    def start(redis_url: str, **options: Any) -> WorkerProcess:
        options.setdefault("ledger", tmp_path / "ledger.txt")
        options.setdefault("log_path", tmp_path / f"worker-{len(started)}.log")
        worker = WorkerProcess(redis_url, **options).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.txt"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[App]:
    """A producer and inspector App without tasks (the workers own the tasks)."""
    app = App(Settings(redis_url=redis_url))
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture
def redis_servers(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start private redis-server processes (own port and data dir) this test may kill,
    pause or restart; each is stopped by its pid afterwards."""
    started: list[RedisServer] = []

    def start(appendfsync: str = "always", **options: Any) -> RedisServer:
        data_dir = tmp_path / f"redis-{len(started)}"
        data_dir.mkdir(parents=True, exist_ok=True)
        server = RedisServer(data_dir=data_dir, appendfsync=appendfsync, **options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def proxies() -> Iterator[Callable[[int], Proxy]]:
    """TCP proxies in front of a Redis port, stopped after the test."""
    started: list[Proxy] = []

    def start(upstream_port: int) -> Proxy:
        proxy = Proxy(upstream_port).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture
def apis(tmp_path: Path) -> Iterator[Callable[..., ApiProcess]]:
    """Start `streamq api` processes; each is stopped by its pid after the test."""
    started: list[ApiProcess] = []

    def start(redis_url: str, **options: Any) -> ApiProcess:
        options.setdefault("log_path", tmp_path / f"api-{len(started)}.log")
        api = ApiProcess(redis_url, **options)
        started.append(api)
        return api.start()

    yield start
    for api in started:
        api.stop()
