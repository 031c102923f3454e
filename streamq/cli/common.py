"""What every client command shares: exit codes, option helpers, loading the app, and
running one call under a deadline with errors turned into one line and an exit code."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import click

from ..app import App
from ..errors import BackendUnavailable, JobNotFound, StreamqError
from ..job import JobStatus, Priority
from ..loader import load_app

T = TypeVar("T")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_UNAVAILABLE, EXIT_INVALID = (
    0, 1, 2, 3, 4, 5,
)
VERBOSE = "streamq.verbose"
"""Key of the root context's `meta`: the command was given --verbose."""
PRIORITY_CHOICE = click.Choice(Priority.spellings(), case_sensitive=False)
STATUS_CHOICE = click.Choice([s.value for s in JobStatus])


def exit_code(exc: StreamqError) -> int:
    if isinstance(exc, JobNotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, BackendUnavailable):
        return EXIT_UNAVAILABLE
    return EXIT_INVALID if exc.http_status < 500 else EXIT_FAILURE


def load(spec: str) -> App:
    try:
        return load_app(spec)
    except StreamqError as exc:
        raise click.BadParameter(str(exc), param_hint="APP") from None


def run(app: App, fn: Callable[[App], Awaitable[T]], extra_s: float = 0.0) -> T:
    """Run one client call under a deadline (longer by `extra_s` for a call that waits);
    a streamq error becomes a one-line message on stderr (naming the Redis it talked to)
    and its exit code."""
    from ..config_report import redis_origin

    deadline = max(5.0, 2 * app.settings.redis_timeout_s) + extra_s
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_root().meta.get(VERBOSE):
        click.echo(f"Redis: {redis_origin(app.settings)}", err=True)

    async def go() -> T:
        try:
            with anyio.fail_after(deadline):
                return await fn(app)
        except TimeoutError:
            raise BackendUnavailable(f"Redis did not answer within {deadline:g} s") from None
        finally:
            with anyio.CancelScope(shield=True):
                await app.close()

    try:
        return anyio.run(go)
    except StreamqError as exc:
        click.echo(f"error: {exc} [Redis: {redis_origin(app.settings)}]", err=True)
        sys.exit(exit_code(exc))


def option(*names: str, **kwargs: Any) -> Callable[[Any], Any]:
    """click.option that shows its STREAMQ_* variable in --help."""
    return click.option(*names, show_envvar=True, **kwargs)


def app_option(fn: Any) -> Any:
    return option("--app", "app_spec", default=None, envvar="STREAMQ_APP",
                  help="APP (module:attr) whose tasks and queues to use; default: settings "
                  "only (the default queue, no payload checks).")(fn)


def json_option(fn: Any) -> Any:
    return option("--json", "as_json", is_flag=True, envvar="STREAMQ_JSON",
                  help="Print JSON for scripts.")(fn)


def client_app(app_spec: str | None) -> App:
    return load(app_spec) if app_spec else App()


# -- jobs ----------------------------------------------------------------------------------
