"""Redis URLs: the forms streamq accepts, checked when settings load (no I/O here).

    redis://[user:password@]host[:port][/db]      rediss:// for TLS
    unix://[user:password@]/path/to/socket[?db=N]
    redis+cluster://[user:password@]host:port[,host:port...]           rediss+cluster://
    redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]   rediss+sentinel://

A cluster URL names seed nodes (any reachable one tells the client the whole topology); a
sentinel URL names sentinels and the service they watch, whose primary is asked for on
every reconnection. Credentials, database and query options (`?ssl_ca_certs=...`) are
those of the Redis servers themselves, passed as in a `redis://` URL.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

SINGLE_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
SCHEMES = (*SINGLE_SCHEMES, *CLUSTER_SCHEMES, *SENTINEL_SCHEMES)

Topology = Literal["single", "cluster", "sentinel"]


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A checked URL, split into what a client needs."""

    topology: Topology
    tls: bool
    hosts: tuple[tuple[str, int], ...]
    """Seed nodes (cluster) or sentinels; empty for a single server."""
    service: str = ""
    """The service name sentinels know the primary by."""
    node_url: str = ""
    """A `redis://` (or `rediss://`) URL carrying the credentials, database and query
    options every connection to a Redis server takes (for one server: the URL itself)."""


def redact(url: str) -> str:
    """The URL with its passwords masked (the servers' and the sentinels'), for messages
    and logs."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if password is not None:
        parts = parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@", 1))
    if "sentinel_password=" in parts.query:
        parts = parts._replace(query=_SENTINEL_PASSWORD.sub(r"\1***", parts.query))
    return parts.geturl()


_SENTINEL_PASSWORD = re.compile(r"((?:^|&)sentinel_password=)[^&]*")


def check_redis_url(url: str) -> str:
    """The URL itself when streamq can connect with it; ValueError naming what is wrong
    (the password masked)."""
    parse_redis_url(url)
    return url


def parse_redis_url(url: str) -> RedisTarget:
    """Split a URL of any accepted form; ValueError naming what is wrong."""
    shown = redact(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"{shown!r} is not a valid URL: {exc}") from None
    scheme = parts.scheme
    if scheme not in SCHEMES:
        raise ValueError(
            f"unknown scheme {scheme + '://' if scheme else 'in ' + repr(shown)}; "
            f"use {', '.join(s + '://' for s in SCHEMES)}"
        )
    if scheme in SINGLE_SCHEMES:
        return _single(url, shown)
    tls = scheme.startswith("rediss")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    default_port = 26379 if scheme in SENTINEL_SCHEMES else 6379
    hosts = tuple(_host_port(h, default_port, shown) for h in hostlist.split(","))
    if scheme in CLUSTER_SCHEMES:
        service, db = "", _cluster_db(parts.path, shown)
    else:
        service, db = _service_db(parts.path, shown)
    node = f"{'rediss' if tls else 'redis'}://{userinfo + '@' if userinfo else ''}"
    node += f"{_bracketed(hosts[0][0])}:{hosts[0][1]}/{db}"
    if parts.query:
        node += f"?{parts.query}"
    topology: Topology = "cluster" if scheme in CLUSTER_SCHEMES else "sentinel"
    return RedisTarget(topology, tls, hosts, service, node)


def redis_cli(url: str) -> str:
    """The `redis-cli` invocation that reaches the data of `url`: `-c` (follow
    redirections) on a cluster; on Sentinel, the primary the sentinels name right now."""
    target = parse_redis_url(url)
    if target.topology == "single":
        return f"redis-cli -u {shlex.quote(url)}"
    node = urlsplit(target.node_url)
    userinfo = node.netloc.rpartition("@")[0]
    base = f"{node.scheme}://{userinfo + '@' if userinfo else ''}"
    host, port = target.hosts[0]
    if target.topology == "cluster":
        return f"redis-cli -c -u {shlex.quote(f'{base}{_bracketed(host)}:{port}')}"
    tls = " --tls" if target.tls else ""
    ask = (f"redis-cli{tls} -h {shlex.quote(host)} -p {port} --raw "
           f"SENTINEL get-master-addr-by-name {shlex.quote(target.service)} | paste -sd:")
    return f'redis-cli -u "{base}$({ask}){node.path}"'


def _single(url: str, shown: str) -> RedisTarget:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{shown!r} is not a valid URL: {exc}") from None
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
    _check_db(db, shown)
    return RedisTarget("single", parts.scheme == "rediss", (), "", url)


def _host_port(text: str, default_port: int, shown: str) -> tuple[str, int]:
    """`host`, `host:port` or `[v6 address]:port`."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else rest
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise ValueError(f"{shown!r} names an empty host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{shown!r}: port {port_text!r} of {host} must be 1 to 65535")
    return host, int(port_text)


def _cluster_db(path: str, shown: str) -> int:
    db = path.strip("/") or "0"
    if db != "0":
        raise ValueError(f"{shown!r}: a Redis Cluster has database 0 only")
    return 0


def _service_db(path: str, shown: str) -> tuple[str, int]:
    pieces = [p for p in path.split("/") if p]
    if not pieces:
        raise ValueError(f"{shown!r} names no service: use .../service_name[/db]")
    if len(pieces) > 2:
        raise ValueError(f"{shown!r}: the path is /service_name[/db]")
    db = pieces[1] if len(pieces) == 2 else "0"
    _check_db(db, shown)
    return pieces[0], int(db)


def _check_db(db: str, shown: str) -> None:
    if not db.isdigit():
        raise ValueError(f"database {db!r} in {shown!r} is not a non-negative integer")


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
