"""Fixtures: the API of a test App on the test's Redis, through aiohttp's test client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from streamq import App, Settings
from streamq.api import create_app
from tests.api.tasks import make_app

Client = TestClient[Any, Any]
StartApi = Callable[..., Awaitable[Client]]


@pytest.fixture
async def start_api(settings_for: Callable[..., Settings]) -> AsyncIterator[StartApi]:
    """Start an API for an App with the given setting overrides; closed after the test."""
    started: list[tuple[App, Client]] = []

    async def start(**overrides: Any) -> Client:
        application = make_app(settings_for(**overrides))
        client: Client = TestClient(TestServer(create_app(application)))
        await client.start_server()
        started.append((application, client))
        return client

    yield start
    for application, client in started:
        await client.close()
        await application.close()


@pytest.fixture
async def api(start_api: StartApi) -> Client:
    """The API with default test settings."""
    return await start_api()
