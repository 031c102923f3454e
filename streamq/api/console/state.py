"""Typed state of the console's aiohttp sub-application."""

from __future__ import annotations

from aiohttp import web
from jinja2 import Environment

from ...app import App
from .bulk import BulkRunner

APP = web.AppKey("streamq_console_app", App)
BULK = web.AppKey("streamq_console_bulk", BulkRunner)
JINJA = web.AppKey("streamq_console_jinja", Environment)


def console_app_of(request: web.Request) -> App:
    return request.app[APP]


def base_path(request: web.Request) -> str:
    """Where the console is mounted, with a trailing slash (`/ui/`)."""
    return str(request.app.router["console.overview"].url_for())
