"""Who may see and do what in the console, and the headers every page carries.

- The API's tokens apply. With no token configured, the console is open (like the API).
  The admin (or general) token may act; the submit token and the read token may only
  look. A browser gives its token once, in the login form; it is kept in an HttpOnly,
  SameSite=Strict cookie scoped to the console's path. A script may send
  `Authorization: Bearer <token>` instead.
- Actions are POSTs protected against cross-site requests three ways: the SameSite=Strict
  cookies, a double-submit token (a random `csrf` cookie that every form and htmx request
  must repeat), and the `Origin` / `Sec-Fetch-Site` headers when the browser sends them.
- A strict Content-Security-Policy: scripts, styles and connections to the console's own
  origin only, no inline script or style, no framing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import IntEnum
from urllib.parse import urlsplit

from aiohttp import web
from pydantic import SecretStr

from ...settings import Settings

SESSION_COOKIE = "streamq_console"
CSRF_COOKIE = "streamq_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_NEW = web.RequestKey("streamq_console_csrf_new", str)
"""A token made for this request's response to set, when the browser had none."""

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium send Origin: null
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class Role(IntEnum):
    NONE = 0
    READ = 1
    ADMIN = 2


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def _any_matches(given: str, tokens: list[SecretStr | None]) -> bool:
    """Constant time: every configured token is compared, digests have one length."""
    ok = False
    for token in tokens:
        if token is not None:
            ok |= hmac.compare_digest(_digest(given), _digest(token.get_secret_value()))
    return ok


def auth_enabled(s: Settings) -> bool:
    """As for the API: on once an API token is set (the read token alone opens nothing)."""
    return any(t is not None for t in (s.api_token, s.api_admin_token, s.api_submit_token))


def role_of_token(s: Settings, token: str) -> Role:
    if not token:
        return Role.NONE
    if _any_matches(token, [s.api_token, s.api_admin_token]):
        return Role.ADMIN
    if _any_matches(token, [s.api_submit_token, s.api_read_token]):
        return Role.READ
    return Role.NONE


def request_token(request: web.Request) -> str:
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(SESSION_COOKIE, "")


def role_of(request: web.Request, s: Settings) -> Role:
    if not auth_enabled(s):
        return Role.ADMIN
    return role_of_token(s, request_token(request))


# -- CSRF --------------------------------------------------------------------------------------


def csrf_token(request: web.Request) -> str:
    """This browser's token: its cookie, or a new one the response will set."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if len(existing) == 64 and all(c in "0123456789abcdef" for c in existing):
        return existing
    token = request.get(CSRF_NEW)
    if token is None:
        token = request[CSRF_NEW] = secrets.token_hex(32)
    return token


def set_cookies(request: web.Request, response: web.StreamResponse, path: str) -> None:
    new = request.get(CSRF_NEW)
    if new is not None:
        response.set_cookie(CSRF_COOKIE, new, path=path, httponly=True, samesite="Strict",
                            secure=request.secure)


def same_origin(request: web.Request) -> bool:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser, or one that says where it comes from in Sec-Fetch-Site
    return urlsplit(origin).netloc == request.host  # the scheme may be a proxy's TLS


def csrf_ok(request: web.Request, sent: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    given = sent or request.headers.get(CSRF_HEADER, "")
    if not cookie or not given or not same_origin(request):
        return False
    return hmac.compare_digest(cookie.encode(), given.encode())
