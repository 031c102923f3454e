"""The history routes: GET /history, and the archive's line in /readyz.

GET /jobs/{id} needs nothing here: App.get_job falls back to the archive by itself.
"""

from __future__ import annotations

import anyio
import orjson
from aiohttp import web

from ..app import App
from ..errors import BackendUnavailable, HistoryUnavailable
from .body import parse_query
from .models import HistoryQuery
from .state import call, client

PAYLOAD = "payload."


async def search_history(request: web.Request) -> web.Response:
    q = parse_query(HistoryQuery, request)
    payload = [(k[len(PAYLOAD):], v) for k, v in request.query.items() if k.startswith(PAYLOAD)]
    app = client(request)
    try:
        page = await call(request, app.history(
            status=q.status, type=q.type, queue=q.queue, since=q.since, until=q.until,
            payload=payload, error_type=q.error_type, fingerprint=q.fingerprint,
            limit=q.limit, cursor=q.cursor))
    except BackendUnavailable as exc:
        if isinstance(exc, HistoryUnavailable):
            raise
        raise HistoryUnavailable(f"the history archive did not answer: {exc}") from None
    return web.Response(body=orjson.dumps(page.model_dump(mode="json")),
                        content_type="application/json")


async def history_status(app: App) -> str | None:
    """`ok` or why the archive cannot be used; None without one. Bounded to one second."""
    archive = app.history_archive
    if archive is None:
        return None
    with anyio.move_on_after(min(1.0, app.settings.api_deadline_s / 2)):
        try:
            await archive.ping()
        except HistoryUnavailable:
            return "unreachable"
        return "ok"
    return "unreachable (slow)"
