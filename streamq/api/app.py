"""create_app: the aiohttp application of an App, with typed state and one lifecycle."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ..app import App
from ..metrics import declare_producer_series
from .auth import Scope, auth_enabled, auth_middleware
from .console import mount_console, route_names
from .metrics import QueueCollector, metrics_middleware
from .openapi import build_openapi
from .problems import problems_middleware
from .routes import QUEUE_METRICS
from .state import APP, OPENAPI, SCOPES
from .table import ROUTES

log = logging.getLogger("streamq.api")


def create_app(app: App, *, owns_client: bool = False) -> web.Application:
    """The API of `app`. With `owns_client`, its Redis client is closed on shutdown (the
    `streamq api` process); `streamq dev` shares the client with its worker node."""
    s = app.settings
    tracing = [app.tracing.middleware()] if app.tracing is not None else []
    web_app = web.Application(
        middlewares=[*tracing, metrics_middleware, problems_middleware, auth_middleware],
        client_max_size=s.api_max_body_bytes,
    )
    web_app[APP] = app
    declare_producer_series((t.options.queue, t.name) for t in app.tasks.values())
    web_app[OPENAPI] = build_openapi(app)
    web_app[SCOPES] = {route.name: route.scope.value for route in ROUTES}
    if s.queue_metrics:
        web_app[QUEUE_METRICS] = QueueCollector()
    for route in ROUTES:
        web_app.router.add_route(route.method, route.path, route.handler, name=route.name)
    # The console at /ui/ checks its own cookie or bearer token (and CSRF) per route.
    mount_console(web_app, app)
    web_app[SCOPES].update(dict.fromkeys(route_names(), Scope.OPEN.value))

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        log.info("API ready: %d tasks, queues %s, auth %s", len(app.tasks),
                 ",".join(app.queues), "on" if auth_enabled(s) else "off")
        yield
        if owns_client:
            await app.close()

    web_app.cleanup_ctx.append(lifecycle)
    return web_app
