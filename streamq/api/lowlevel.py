"""Problem details for the errors aiohttp answers before any handler or middleware runs.

A request line or header that cannot be parsed (over 8 KB, bad characters, a broken
chunked body) never reaches the application: aiohttp's connection handler answers it
itself, in plain text that echoes the offending input, and logs a traceback at ERROR. The
server of `streamq api` and `streamq dev` answers those as problem+json too, naming the
limit but never quoting the input, and logs one line at INFO (a client's mistake is not
an error of the server).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ..errors import StreamqError
from .problems import BadRequest, HeadersTooLarge, InternalError, problem_response

log = logging.getLogger("streamq.api")

MAX_LINE_BYTES = 8190
"""aiohttp's limit on the request line and on each header field."""


def answer_parse_errors_with_problems(runner: web.BaseRunner) -> None:
    """Make the set-up runner's connections answer unparsable requests as problems."""
    server = runner.server
    if server is None:
        raise RuntimeError("set the runner up first")
    # aiohttp builds its connection handler in Server.__call__ and offers no hook for the
    # class; both subclasses add no state, so swapping the class is safe.
    server.__class__ = _ProblemServer


class _ProblemServer(web.Server):
    def __call__(self) -> RequestHandler:
        handler = super().__call__()
        handler.__class__ = _ProblemRequestHandler
        return handler


class _ProblemRequestHandler(RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: too late for another response
            raise ConnectionError("response already sent; cannot send the error")
        error = _problem_of(status, exc)
        if error.http_status >= 500:
            log.error("error handling a request from %s", request.remote, exc_info=exc)
        else:
            log.info("refused an unparsable request from %s: %d %s (%s)", request.remote,
                     error.http_status, error.code, type(exc).__name__ if exc else "-")
        response = problem_response(error, None)
        response.force_close()
        return response


def _problem_of(status: int, exc: BaseException | None) -> StreamqError:
    if isinstance(exc, LineTooLong):
        return HeadersTooLarge(
            f"the request line or a header field is over {MAX_LINE_BYTES} bytes")
    if status < 500:
        return BadRequest("the request is not valid HTTP/1.1 (request line, headers or "
                          "chunked body)")
    return InternalError(f"HTTP {status}")
