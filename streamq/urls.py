"""Redis URLs: the forms streamq accepts, checked when settings load (no I/O here).

    redis://[user:password@]host[:port][/db]      rediss:// for TLS
    unix://[user:password@]/path/to/socket[?db=N]
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

SCHEMES = ("redis", "rediss", "unix")


def redact(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def check_redis_url(url: str) -> str:
    """The URL itself when streamq can connect with it; ValueError naming what is wrong
    (the password masked)."""
    shown = redact(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{shown!r} is not a valid URL: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"unknown scheme {parts.scheme + '://' if parts.scheme else 'in ' + repr(shown)}; "
            f"use {', '.join(s + '://' for s in SCHEMES)}"
        )
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"{shown!r} names no socket path")
        db = parse_qs(parts.query).get("db", ["0"])[-1]
    else:
        if not parts.hostname:
            raise ValueError(f"{shown!r} names no host")
        if port == 0:
            raise ValueError(f"{shown!r}: port must be 1 to 65535")
        db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise ValueError(f"database {db!r} in {shown!r} is not a non-negative integer")
    return url
