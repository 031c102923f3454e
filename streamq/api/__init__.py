"""The HTTP API: `create_app(app)` for an aiohttp application, `serve_api` to run it."""

from .app import create_app
from .server import run_api, serve_api

__all__ = ["create_app", "run_api", "serve_api"]
