"""Fixtures for invariant tests: worker processes that are always cleaned up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streamq import App, Settings
from tests.support.procs import WorkerProcess


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
