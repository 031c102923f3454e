"""Reading a request body: content type, size, strict JSON and nesting depth, then a model.

Every refusal is a streamq error (415, 413, 400, 422) raised before anything is stored.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
import pydantic
from aiohttp import web
from pydantic import BaseModel

from ..errors import ValidationError
from .problems import BodyTooLarge, MalformedBody, UnsupportedMediaType

M = TypeVar("M", bound=BaseModel)


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def read_json(request: web.Request, max_depth: int, max_bytes: int) -> Any:
    """The body as JSON: 415 unless JSON, 413 over the size limit, 400 unless strict JSON
    (no NaN or Infinity) nested at most `max_depth` deep."""
    if not _is_json(request.content_type):
        raise UnsupportedMediaType(
            f"send the body as application/json, not {request.content_type or 'nothing'}"
        )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge(
            f"request body is over the limit of {max_bytes} bytes"
        ) from None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"body is not valid JSON: {exc}") from None
    if _depth_over(data, max_depth):
        raise MalformedBody(f"body is nested more than {max_depth} levels deep")
    return data


def _depth_over(value: Any, limit: int) -> bool:
    """True when arrays and objects nest deeper than `limit` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_model(model: type[M], data: Any, prefix: str = "") -> M:
    """Validate `data` as `model`; 422 naming the first offending field."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _invalid(exc, prefix) from None


def parse_query(model: type[M], request: web.Request) -> M:
    """Validate the query string (one value per name) as `model`."""
    return parse_model(model, dict(request.query))


def _invalid(exc: pydantic.ValidationError, prefix: str) -> ValidationError:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    first = errors[0]
    loc = [str(x) for x in first["loc"] if not _is_union_branch(x)]
    field = prefix + ".".join(loc) if loc else (prefix.rstrip(".") or "body")
    return ValidationError(f"{field}: {first['msg']}", field=field, errors=errors)


def _is_union_branch(part: Any) -> bool:
    """pydantic names union branches in `loc` (`run_at.datetime`): not a field."""
    return isinstance(part, str) and part in {
        "datetime", "float", "int", "str", "function-after", "constrained-float",
        "constrained-str"}
