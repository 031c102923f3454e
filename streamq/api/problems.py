"""RFC 9457 problem details: one table from error code to status, and the middleware that
renders every error (ours, aiohttp's, a defect) as `application/problem+json`.

A problem's `type` is `urn:streamq:problem:<code>`, stable per error code; `field` names
the offending request field when there is one. No body ever holds a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, Field

from ..errors import BackendUnavailable, QueueFull, StreamqError

log = logging.getLogger("streamq.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:streamq:problem:"


# -- errors only the HTTP layer raises ---------------------------------------------------------


class MalformedBody(StreamqError):
    """Raised when a request body is not strict JSON (NaN, Infinity, too deep, truncated)."""

    code = "malformed-json"
    http_status = 400
    title = "Malformed JSON body"


class UnsupportedMediaType(StreamqError):
    """Raised when a body is sent with a content type other than application/json."""

    code = "unsupported-media-type"
    http_status = 415
    title = "Unsupported media type"


class BodyTooLarge(StreamqError):
    """Raised when a request body is over `api_max_body_bytes`."""

    code = "body-too-large"
    http_status = 413
    title = "Request body too large"


class Unauthorized(StreamqError):
    """Raised when a route needs a bearer token and the request has none that is valid."""

    code = "unauthorized"
    http_status = 401
    title = "Missing or invalid bearer token"


class Forbidden(StreamqError):
    """Raised when a valid token does not grant the route (a submit token on admin routes)."""

    code = "forbidden"
    http_status = 403
    title = "Token does not grant this route"


class RouteNotFound(StreamqError):
    """Raised for a path no route serves."""

    code = "not-found"
    http_status = 404
    title = "No such route"


class MethodNotAllowed(StreamqError):
    """Raised for a method a route does not serve."""

    code = "method-not-allowed"
    http_status = 405
    title = "Method not allowed"


class HeadersTooLarge(StreamqError):
    """Raised when the request line or a header field is over the server's limit."""

    code = "headers-too-large"
    http_status = 431
    title = "Request header fields too large"


class BadRequest(StreamqError):
    """Raised for a request refused by the HTTP layer for any other reason."""

    code = "bad-request"
    http_status = 400
    title = "Bad request"


class InternalError(StreamqError):
    """Stands for a defect of ours: logged with its traceback, answered without it."""

    code = "internal"
    http_status = 500
    title = "Internal error"


def _all_errors(base: type[StreamqError]) -> list[type[StreamqError]]:
    found = [base]
    for sub in base.__subclasses__():
        found += _all_errors(sub)
    return found


def problem_table() -> dict[str, tuple[int, str]]:
    """Every error code with its HTTP status and title (the one table)."""
    return {cls.code: (cls.http_status, cls.title) for cls in _all_errors(StreamqError)}


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(description="`urn:streamq:problem:<code>`, stable per error code.")
    title: str
    status: int
    detail: str
    instance: str | None = Field(
        None, description="The request path (absent when the request could not be parsed).")
    code: str
    field: str | None = Field(None, description="The offending request field, if any.")
    errors: list[dict[str, Any]] | None = Field(None, description="Validation errors.")


GENERIC_DETAIL = {
    503: "Redis is unavailable or slow; try again shortly (the server log has the cause).",
    500: "internal error; see the server log",
}
GENERIC_DETAIL_BY_CODE = {
    "history-unavailable": "The history archive is unavailable or slow; try again shortly "
    "(the server log has the cause).",
}


def problem_of(error: StreamqError, path: str | None) -> Problem:
    """The problem body; a server-side error's detail is generic (no internal addresses)."""
    return Problem(
        type=TYPE_PREFIX + error.code,
        title=error.title,
        status=error.http_status,
        detail=GENERIC_DETAIL_BY_CODE.get(
            error.code, GENERIC_DETAIL.get(error.http_status, error.message)
        ),
        instance=path,
        code=error.code,
        field=getattr(error, "field", None),
        errors=_plain(error.detail.get("errors")),
    )


def problem_response(error: StreamqError, path: str | None) -> web.Response:
    headers = {}
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(error.detail.get("allow", ()))
    if isinstance(error, QueueFull):
        headers["Retry-After"] = str(error.retry_after_s)
    if isinstance(error, BackendUnavailable):
        headers["Retry-After"] = "1"
    if isinstance(error, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="streamq"'
    body = problem_of(error, path).model_dump(mode="json", exclude_none=True)
    return web.Response(
        body=orjson.dumps(body),
        status=error.http_status,
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def _plain(errors: Any) -> list[dict[str, Any]] | None:
    """Pydantic error dicts made JSON-safe (their `input` may be anything)."""
    if not isinstance(errors, list):
        return None
    return [
        {"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")),
         "type": str(e.get("type", ""))}
        for e in errors
        if isinstance(e, dict)
    ]


def _from_http(exc: web.HTTPException, request: web.Request) -> StreamqError:
    if exc.status == 404:
        return RouteNotFound(f"no route for {request.method} {request.path}")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allow = sorted(exc.allowed_methods)
        return MethodNotAllowed(
            f"{request.path} does not serve {exc.method}; it serves {', '.join(allow)}",
            allow=allow)
    if exc.status == 413:
        return BodyTooLarge("request body is over the size limit")
    if exc.status < 500:
        return BadRequest(exc.reason or "bad request")
    return InternalError(f"HTTP {exc.status}")


@web.middleware
async def problems_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into a problem response; log defects with their traceback."""
    try:
        return await handler(request)
    except StreamqError as exc:
        if exc.http_status >= 500 and not isinstance(exc, InternalError):
            log.warning("%s %s: %s", request.method, request.path, exc.message)
        return problem_response(exc, request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem_response(_from_http(exc, request), request.path)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return problem_response(InternalError("unhandled error"), request.path)
