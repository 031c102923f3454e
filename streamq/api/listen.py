"""The API's listening socket, bound before anything starts.

Binding first means a port that is taken is one clear error before the app is set up
(no "API ready" line followed by a traceback), and the server then serves the very socket
it checked.
"""

from __future__ import annotations

import errno
import socket

from ..errors import ConfigurationError


class PortUnavailable(ConfigurationError):
    """Raised when the API cannot listen on its host and port (taken, or not ours)."""

    code = "port-unavailable"
    title = "Cannot listen on the port"


def listen_socket(host: str, port: int, backlog: int = 128) -> socket.socket:
    """A listening TCP socket on (host, port), or PortUnavailable saying why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        hint = "; is another server running there? pick another with --port" if (
            exc.errno == errno.EADDRINUSE) else ""
        raise PortUnavailable(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    sock.setblocking(False)
    return sock
