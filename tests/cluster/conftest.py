"""Fixtures: a local Redis Cluster and a Sentinel setup shared by the tests of one process
(emptied before each test), and private ones for the tests that kill a primary."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streamq import App, Settings
from tests.support.checker import FaultLog
from tests.support.fixtures import apis, ledger_path, workers
from tests.support.topology import LocalCluster, LocalSentinel

from .tasks import make_app

__all__ = ["apis", "ledger_path", "workers"]


@pytest.fixture(scope="session")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(shared_cluster: LocalCluster) -> LocalCluster:
    """The shared cluster, every primary flushed."""
    shared_cluster.flushall()
    return shared_cluster


@pytest.fixture(scope="session")
def shared_sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSentinel]:
    setup = LocalSentinel(tmp_path_factory.mktemp("sentinel")).start()
    try:
        yield setup
    finally:
        setup.stop()


@pytest.fixture
def sentinel(shared_sentinel: LocalSentinel) -> LocalSentinel:
    """The shared primary + replica + sentinels, the primary flushed."""
    shared_sentinel.flushall()
    return shared_sentinel


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A cluster this test alone uses and may kill nodes of."""
    cluster = LocalCluster(tmp_path / "cluster").start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def own_sentinel(tmp_path: Path) -> Iterator[LocalSentinel]:
    setup = LocalSentinel(tmp_path / "sentinel").start()
    try:
        yield setup
    finally:
        setup.stop()


@pytest.fixture
def settings_on() -> Callable[..., Settings]:
    """Settings on a given URL, with fast timings unless a test overrides them."""

    def make(url: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": url,
            "visibility_timeout_ms": 2_000,
            "reclaim_interval_ms": 200,
            "retry_base_s": 0.05,
            "retry_cap_s": 1.0,
            "grace_period_s": 2.0,
            "fetch_block_ms": 200,
            "redis_timeout_s": 2.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
async def cluster_app(
    cluster: LocalCluster, settings_on: Callable[..., Settings]
) -> AsyncIterator[App]:
    """The three-queue app on the shared cluster."""
    app = make_app(settings_on(cluster.url))
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture
async def sentinel_app(
    sentinel: LocalSentinel, settings_on: Callable[..., Settings]
) -> AsyncIterator[App]:
    app = make_app(settings_on(sentinel.url))
    try:
        yield app
    finally:
        await app.close()


@pytest.fixture
def faults() -> FaultLog:
    return FaultLog()
