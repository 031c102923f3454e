"""Checks shared by the API tests: RFC 9457 problem bodies."""

from __future__ import annotations

from typing import Any


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

