"""Checks shared by the API tests: problem bodies and 'nothing changed in Redis'."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis


async def assert_problem(
    response: Any, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """An RFC 9457 body with a stable type per code, the field, and no traceback."""
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["type"] == f"urn:streamq:problem:{code}"
    assert body["status"] == status and body["code"] == code
    assert body["title"] and body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    text = str(body)
    assert "Traceback" not in text and 'File "' not in text
    return body


async def redis_snapshot(redis: Redis) -> dict[bytes, Any]:
    """Every key with its type and size: enough to see that a request changed nothing."""
    snapshot: dict[bytes, Any] = {}
    for key in await redis.keys("*"):
        kind = (await redis.type(key)).decode()
        size: Any = {
            "hash": redis.hlen, "zset": redis.zcard, "stream": redis.xlen, "set": redis.scard,
            "string": redis.strlen, "list": redis.llen,
        }[kind](key)
        snapshot[key] = (kind, await size)
    return snapshot
