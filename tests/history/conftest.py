"""Fixtures of the history tests: a database of its own per test on the machine's
PostgreSQL (dropped after), a private PostgreSQL server to stop and start, and an App
archiving into the test's database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from streamq import App, Settings
from streamq.history import HistoryArchive
from tests.store.conftest import table
from tests.support.fixtures import apis, client, ledger_path, workers
from tests.support.postgres import PrivatePostgres, create_database, drop_database

__all__ = ["apis", "client", "ledger_path", "table", "workers"]


@pytest.fixture
async def history_url() -> AsyncIterator[str]:
    """The URL of a new, empty database on the shared server; dropped after the test."""
    url = await create_database()
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture
async def archive(history_url: str) -> AsyncIterator[HistoryArchive]:
    """The test database's archive, migrated."""
    arch = HistoryArchive(history_url, retention_days=30)
    await arch.migrate()
    try:
        yield arch
    finally:
        await arch.close()


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server this test alone uses and may stop; destroyed after."""
    server = PrivatePostgres().init().start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def history_settings(
    settings_for: Callable[..., Settings], history_url: str
) -> Callable[..., Settings]:
    """Settings on the test's Redis and archive database, fast timings."""

    def make(**overrides: Any) -> Settings:
        return settings_for(history_url=history_url, **overrides)

    return make


@pytest.fixture
async def history_app(history_settings: Callable[..., Settings]) -> AsyncIterator[App]:
    application = App(history_settings())
    try:
        yield application
    finally:
        await application.close()
