"""Server-sent events from the queues' events streams, so that open pages refresh the
parts that changed without a reload.

The event id is the position in every queue's events stream (base64 of a small JSON
object), so a browser that reconnects (`Last-Event-ID`) or that comes back to a hidden
tab (`?last=`) resumes exactly after the last change it saw. One SSE message is sent per
read batch (not per job): a busy queue costs a page one refresh per batch, throttled
again in the browser.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from typing import Any

import orjson
from aiohttp import web

from ...app import App
from ...errors import ValidationError

BLOCK_MS = 1_000
KEEPALIVE_S = 15.0
_ENTRY_ID = re.compile(r"\d{1,20}-\d{1,20}")


def encode_position(after: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(after)).decode().rstrip("=")


def decode_position(text: str, queues: list[str]) -> dict[str, str] | None:
    """The per-queue positions of an event id, or None when it is not one of ours."""
    try:
        body = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(body, dict) or sorted(body) != sorted(queues):
        return None
    if not all(isinstance(v, str) and _ENTRY_ID.fullmatch(v) for v in body.values()):
        return None
    return {q: body[q] for q in queues}


async def stream(request: web.Request, app: App) -> web.StreamResponse:
    """`event: change` with the changed job ids, whenever a watched job (or, without
    `job`, any job) changes state."""
    job = request.query.get("job") or None
    if job is not None and len(job) > 100:
        raise ValidationError("job must be a job id", field="job")
    queues = app.registry.layout.expand(app.queues)
    last = request.headers.get("Last-Event-ID") or request.query.get("last") or ""
    after = decode_position(last, queues) if last else None
    if after is None:
        after = await app.store.events_last_ids(queues)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    await response.write(b"retry: 1000\n\n")
    quiet_since = time.monotonic()
    while request.transport is not None and not request.transport.is_closing():
        changed: list[str] = []
        for event in await app.store.read_events(after, BLOCK_MS):
            after[event.shard_queue] = event.id
            if job is None or event.job_id == job:
                changed.append(event.job_id)
        if changed:
            await response.write(_message(encode_position(after), changed))
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > KEEPALIVE_S:
            await response.write(b": keepalive\n\n")
            quiet_since = time.monotonic()
    return response  # the browser went away (checked every read, at most BLOCK_MS apart)


def _message(event_id: str, jobs: list[str]) -> bytes:
    data: dict[str, Any] = {"jobs": list(dict.fromkeys(jobs))[:50], "count": len(jobs)}
    return f"id: {event_id}\nevent: change\ndata: {orjson.dumps(data).decode()}\n\n".encode()
