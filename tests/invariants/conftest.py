"""Fixtures for invariant tests: worker processes that are always cleaned up."""

from __future__ import annotations

from tests.support.fixtures import client, ledger_path, workers

__all__ = ["client", "ledger_path", "workers"]
