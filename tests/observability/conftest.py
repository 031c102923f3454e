"""Fixtures of the monitoring tests: API and worker processes, proxies, Prometheus servers,
each stopped by its pid after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixtures import apis, proxies, workers
from tests.support.prometheus import PrometheusServer

__all__ = ["apis", "prometheus", "proxies", "workers"]


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    """Start Prometheus servers (own port and data dir); each is stopped afterwards."""
    started: list[PrometheusServer] = []

    def start(targets: dict[str, list[str]], rule_files: list[Path], **options: Any
              ) -> PrometheusServer:
        server = PrometheusServer(tmp_path / f"prometheus-{len(started)}", targets, rule_files,
                                  **options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
