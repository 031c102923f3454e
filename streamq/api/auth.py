"""Optional bearer-token auth, checked before a handler reads the body.

Three scopes: `open` routes (/livez, /healthz, /readyz, /metrics) need nothing; `submit`
routes (submit jobs, read one job) take the submit, admin or general token; every other
route is `admin` and takes the admin or general token. With no token set, auth is off.
Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import SecretStr

from ..settings import Settings
from .problems import Forbidden, Unauthorized
from .state import SCOPES, client


class Scope(StrEnum):
    OPEN = "open"
    SUBMIT = "submit"
    ADMIN = "admin"


def _tokens(settings: Settings, scope: Scope) -> list[bytes]:
    candidates: list[SecretStr | None] = [settings.api_token, settings.api_admin_token]
    if scope is Scope.SUBMIT:
        candidates.append(settings.api_submit_token)
    return [t.get_secret_value().encode() for t in candidates if t is not None]


def auth_enabled(settings: Settings) -> bool:
    return any(
        t is not None
        for t in (settings.api_token, settings.api_submit_token, settings.api_admin_token)
    )


def _matches(given: bytes, tokens: list[bytes]) -> bool:
    """Constant time: digests have one length, and every token is compared."""
    digest = hashlib.sha256(given).digest()
    ok = False
    for token in tokens:
        ok |= hmac.compare_digest(digest, hashlib.sha256(token).digest())
    return ok


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = client(request).settings
    if not auth_enabled(settings):
        return await handler(request)
    scope = Scope(request.app[SCOPES].get(request.match_info.route.name or "", Scope.ADMIN))
    if scope is Scope.OPEN:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <token>")
    given = token.strip().encode()
    if _matches(given, _tokens(settings, scope)):
        return await handler(request)
    if scope is Scope.ADMIN and _matches(given, _tokens(settings, Scope.SUBMIT)):
        raise Forbidden("this token may submit and read jobs only")
    raise Unauthorized("the bearer token is not valid")
