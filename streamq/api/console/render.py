"""Jinja2 rendering with the console's filters, and the responses every page shares."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, select_autoescape

from .charts import failure_rate, throughput
from .security import CSRF_FIELD, auth_enabled, csrf_token, role_of, set_cookies
from .state import APP, JINJA, base_path

NAV = {"job.html": "jobs", "confirm.html": "dead", "bulk.html": "dead"}
"""The menu entry a page belongs to, when it is not named after it."""


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("streamq.api.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["age"] = age
    env.filters["when"] = when
    env.globals.update(throughput=throughput, failure_rate=failure_rate, version=version("streamq"),
                       csrf_field=CSRF_FIELD)
    return env


def age(seconds: float | None) -> str:
    """A short human duration: 850 ms, 12 s, 4 min 10 s, 3 h 5 min, 2 d 4 h."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def when(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def render_template(request: web.Request, name: str, **context: Any) -> str:
    settings = request.app[APP].settings
    base = base_path(request)
    live_url = context.pop("live_url", None)
    values = {
        "base": base,
        "role": role_of(request, settings).name.lower(),
        "auth": auth_enabled(settings),
        "csrf": csrf_token(request),
        "live": base + live_url if live_url else "",
        "path": request.path_qs,
        "nav": NAV.get(name, name.removesuffix(".html")),
        **context,
    }
    return request.app[JINJA].get_template(name).render(values)


async def page(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    response = web.Response(text=render_template(request, name, **context), status=status,
                            content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    set_cookies(request, response, base_path(request))
    return response


def redirect(request: web.Request, target: str) -> web.Response:
    """303 to a path relative to the console's base (so a POST becomes a GET)."""
    return web.Response(status=303, headers={"Location": base_path(request) + target})
