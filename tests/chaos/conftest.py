"""Fixtures of the reliability suite: private Redis servers, proxies, worker processes,
a fault log; see tests/support/ for the harness itself."""

from __future__ import annotations

import pytest

from tests.support.checker import FaultLog
from tests.support.fixtures import apis, client, ledger_path, proxies, redis_servers, workers

__all__ = ["apis", "client", "faults", "ledger_path", "proxies", "redis_servers", "workers"]


@pytest.fixture
def faults() -> FaultLog:
    return FaultLog()
