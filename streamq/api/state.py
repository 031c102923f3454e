"""Typed state of the aiohttp application, and the deadline every Redis call runs under."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import anyio
from aiohttp import web

from ..app import App
from ..errors import BackendUnavailable

T = TypeVar("T")

APP = web.AppKey("streamq_app", App)
OPENAPI = web.AppKey("streamq_openapi", dict[str, Any])
SCOPES = web.AppKey("streamq_scopes", dict[str, str])
"""Route name -> auth scope (`open`, `submit`, `admin`), from the route table."""


def client(request: web.Request) -> App:
    return request.app[APP]


async def call(request: web.Request, awaitable: Awaitable[T]) -> T:
    """Await a client call within `api_deadline_s`: Redis down or slow is a 503, never a
    hang."""
    deadline = client(request).settings.api_deadline_s
    try:
        with anyio.fail_after(deadline):
            return await awaitable
    except TimeoutError:
        raise BackendUnavailable(f"Redis did not answer within {deadline:g} s") from None
