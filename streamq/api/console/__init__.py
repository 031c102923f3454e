"""The operator console: server-rendered pages at `/ui/` of the API (or under any prefix
of an aiohttp application), live through server-sent events, with vendored scripts only.

    from streamq.api.console import console_app
    web_app.add_subapp("/ops", console_app(app))    # the console at /ops/
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from ...app import App
from ...errors import StreamqError
from .bulk import BulkRunner
from .render import environment, page, redirect
from .security import HEADERS, Role, csrf_ok, role_of
from .state import APP, BULK, JINJA
from .views import ROLES, ROUTES

log = logging.getLogger("streamq.console")

PREFIX = "/ui"
STATIC = Path(str(resources.files("streamq.api.console") / "static"))
OPEN_ROUTES = {"console.static", "console.login", "console.login_form"}


def console_app(app: App) -> web.Application:
    """The console as an aiohttp application, to mount with `add_subapp(prefix, ...)`."""
    sub = web.Application(middlewares=[guard])
    sub[APP] = app
    sub[BULK] = BulkRunner()
    sub[JINJA] = environment()
    for route in ROUTES:
        sub.router.add_route(route.method, route.path, route.handler, name=route.name)
    sub.router.add_static("/static", STATIC, name="console.static")

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        yield
        await sub[BULK].close()

    sub.cleanup_ctx.append(lifecycle)
    return sub


def mount_console(parent: web.Application, app: App, prefix: str = PREFIX) -> web.Application:
    """Mount the console on the API; its routes do their own auth (cookie or bearer)."""
    async def to_console(_: web.Request) -> web.StreamResponse:
        return web.Response(status=308, headers={"Location": prefix + "/"})

    parent.router.add_get(prefix, to_console, name="console.root")  # before the prefix
    sub = console_app(app)
    parent.add_subapp(prefix, sub)
    return sub


def route_names() -> list[str]:
    return [*ROLES, "console.static", "console.root"]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Role and CSRF checks before the handler, errors as pages, security headers after."""
    try:
        response = await _checked(request, handler)
    except StreamqError as exc:
        if exc.http_status >= 500:
            log.warning("%s %s: %s", request.method, request.path, exc.message)
        response = await page(request, "error.html", status=exc.http_status,
                              title=exc.title, message=_message(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = await page(request, "error.html", status=exc.status, title=exc.reason,
                              message=exc.text or exc.reason)
    if not response.prepared:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def _message(exc: StreamqError) -> str:
    return "Redis is unavailable or slow; try again shortly." if exc.http_status >= 500 else (
        exc.message)


async def _checked(request: web.Request, handler: Handler) -> web.StreamResponse:
    name = request.match_info.route.name or ""
    if name in OPEN_ROUTES:
        return await handler(request)
    need = ROLES.get(name, Role.ADMIN)
    role = role_of(request, request.app[APP].settings)
    if role is Role.NONE and need is not Role.NONE:
        if request.method == "GET" and name != "console.events":
            return redirect(request, "login?next=" + _relative(request))
        return await page(request, "error.html", status=401, title="Sign in first",
                          message="This needs a token: sign in on the login page.")
    if role < need:
        return await page(request, "error.html", status=403, title="Not allowed",
                          message="Your token may look but not act: actions need the admin "
                          "token.")
    if request.method == "POST":
        form = await request.post()
        sent = form.get("csrf")
        if not csrf_ok(request, sent if isinstance(sent, str) else None):
            return await page(request, "error.html", status=403, title="Form expired",
                              message="The request did not carry this page's form token "
                              "(or came from another site). Reload the page and try again.")
    return await handler(request)


def _relative(request: web.Request) -> str:
    from urllib.parse import quote

    base = str(request.app.router["console.overview"].url_for())
    path = request.path_qs[len(base):] if request.path_qs.startswith(base) else ""
    return quote(path, safe="")


__all__ = ["PREFIX", "console_app", "mount_console", "route_names"]
