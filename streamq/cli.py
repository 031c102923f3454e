"""The `streamq` command: run workers and the dev stack, submit and inspect jobs.

Exit codes: 0 success; 1 failure or a node that crashed; 2 usage error; 3 job not found;
4 Redis unavailable; 5 invalid input (validation, conflict, invalid transition).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio
import click
import orjson

from .app import App
from .errors import (
    BackendUnavailable,
    JobNotFound,
    StreamqError,
    ValidationError,
)
from .loader import load_app
from .settings import parse_priority_weights
from .worker.processes import child_command, run_children

T = TypeVar("T")
EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_UNAVAILABLE, EXIT_INVALID = 1, 3, 4, 5


def _exit_code(exc: StreamqError) -> int:
    if isinstance(exc, JobNotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, BackendUnavailable):
        return EXIT_UNAVAILABLE
    if exc.http_status < 500:
        return EXIT_INVALID
    return EXIT_FAILURE


def _run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; a streamq error becomes a one-line message and its exit code."""
    try:
        return anyio.run(fn)
    except StreamqError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(_exit_code(exc))


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _load(spec: str) -> App:
    try:
        return load_app(spec)
    except StreamqError as exc:
        raise click.BadParameter(str(exc), param_hint="APP") from None


@click.group(context_settings={"auto_envvar_prefix": "STREAMQ", "show_default": True})
@click.option("--log-level", default="info", envvar="STREAMQ_LOG_LEVEL", show_envvar=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def main(log_level: str) -> None:
    """streamq: background jobs on Redis Streams."""
    _setup_logging(log_level)


# -- running ---------------------------------------------------------------------------------


def _weights(value: str | None) -> dict[str, int] | None:
    if not value:
        return None
    try:
        return parse_priority_weights(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--priority-weights") from None


@main.command()
@click.argument("app_spec", metavar="APP")
@click.option("-c", "--concurrency", type=click.IntRange(1, 10_000), default=None,
              envvar="STREAMQ_CONCURRENCY", show_envvar=True, help="Jobs in flight per node.")
@click.option("-q", "--queues", default=None, envvar="STREAMQ_QUEUES", show_envvar=True,
              help="Comma-separated queues (default: every queue the app's tasks name).")
@click.option("--processes", type=click.IntRange(1, 256), default=1,
              envvar="STREAMQ_PROCESSES", show_envvar=True, help="Nodes run as child processes.")
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@click.option("--grace-period", type=float, default=None, envvar="STREAMQ_GRACE_PERIOD_S",
              show_envvar=True, help="Seconds in-flight jobs get after SIGTERM.")
@click.option("--priority-weights", default=None, envvar="STREAMQ_PRIORITY_WEIGHTS",
              show_envvar=True, help="Weighted fetching, e.g. high=6,normal=3,low=1.")
def worker(
    app_spec: str,
    concurrency: int | None,
    queues: str | None,
    processes: int,
    burst: bool,
    grace_period: float | None,
    priority_weights: str | None,
) -> None:
    """Run a worker node (or several, with --processes) for APP."""
    weights = _weights(priority_weights)
    if processes > 1:
        options = [*(["-c", str(concurrency)] if concurrency else []),
                   *(["-q", queues] if queues else []),
                   *(["--grace-period", str(grace_period)] if grace_period is not None else []),
                   *(["--priority-weights", priority_weights] if priority_weights else []),
                   *(["--burst"] if burst else [])]
        sys.exit(run_children(child_command(app_spec, options), processes, burst))
    app = _load(app_spec)
    queue_list = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    sys.exit(run_node(app, concurrency, queue_list, weights, burst, grace_period))


def run_node(
    app: App,
    concurrency: int | None = None,
    queues: Sequence[str] | None = None,
    weights: dict[str, int] | None = None,
    burst: bool = False,
    grace_period_s: float | None = None,
) -> int:
    from .worker import Node

    async def go() -> int:
        node = Node(  # inside the loop: its cancel scopes and events belong to it
            app,
            concurrency=concurrency,
            queues=queues,
            priority_weights=weights,
            burst=burst,
            grace_period_s=grace_period_s,
            handle_signals=True,
        )
        logging.getLogger("streamq").info(
            "worker %s: queues %s, concurrency %d", node.name, ",".join(node.queues),
            node.state.slots.total,
        )
        try:
            return await node.run()
        finally:
            await app.close()

    return anyio.run(go)


@main.command()
@click.argument("app_spec", metavar="APP", default="streamq.demo:app")
@click.option("-c", "--concurrency", type=click.IntRange(1, 10_000), default=None)
@click.option("--seed/--no-seed", default=True,
              help="Enqueue the jobs of the app module's `seed(app)` function, if any.")
@click.option("--host", default="127.0.0.1", envvar="STREAMQ_API_HOST", show_envvar=True)
@click.option("--port", type=int, default=8000, envvar="STREAMQ_API_PORT", show_envvar=True)
@click.option("--exit-after", type=float, default=None,
              help="Stop after this many seconds (for scripted runs).")
def dev(
    app_spec: str,
    concurrency: int | None,
    seed: bool,
    host: str,
    port: int,
    exit_after: float | None,
) -> None:
    """Run worker, scheduler (and API when available) in one process, on a private Redis
    when STREAMQ_REDIS_URL is unset."""
    from .dev import run_dev

    sys.exit(run_dev(app_spec, concurrency, seed, host, port, exit_after))


# -- submitting and inspecting ----------------------------------------------------------------


def _app_for_client(app_spec: str | None) -> App:
    return _load(app_spec) if app_spec else App()


def _echo_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode())


@main.command()
@click.argument("type_")
@click.option("--payload", default="{}", help="Payload as a JSON object.")
@click.option("--priority", default=None)
@click.option("--delay", type=float, default=None, help="Seconds before the job is due.")
@click.option("--key", "idempotency_key", default=None, help="Idempotency key.")
@click.option("--app", "app_spec", default=None, envvar="STREAMQ_APP", show_envvar=True,
              help="APP whose tasks validate the payload (optional).")
def enqueue(
    type_: str,
    payload: str,
    priority: str | None,
    delay: float | None,
    idempotency_key: str | None,
    app_spec: str | None,
) -> None:
    """Enqueue one job of TYPE and print its id."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        click.echo(f"error: --payload is not valid JSON: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    app = _app_for_client(app_spec)

    async def go() -> str:
        async with app:
            return await app.enqueue(
                type_, body, priority=priority, delay=delay, idempotency_key=idempotency_key
            )

    click.echo(_run(go))


@main.command()
@click.argument("job_id")
@click.option("--app", "app_spec", default=None, envvar="STREAMQ_APP", show_envvar=True)
def job(job_id: str, app_spec: str | None) -> None:
    """Show one job's record as JSON."""
    app = _app_for_client(app_spec)

    async def go() -> dict[str, Any]:
        async with app:
            return (await app.get_job(job_id)).model_dump(mode="json")

    _echo_json(_run(go))


def _unused(_: ValidationError) -> None:  # keeps the import for subcommands added later
    return None


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
