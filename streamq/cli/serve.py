"""Commands that run the system: a worker node (or several), the API, and the dev stack."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Sequence

import anyio
import click

from ..app import App
from ..settings import parse_priority_weights
from ..worker.processes import child_command, run_children
from .common import (
    EXIT_USAGE,
    load,
    option,
)


def _weights(value: str | None) -> dict[str, int] | None:
    if not value:
        return None
    try:
        return parse_priority_weights(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--priority-weights") from None


@click.command()
@click.argument("app_spec", metavar="APP")
@option("-c", "--concurrency", type=click.IntRange(1, 10_000), default=None,
              envvar="STREAMQ_CONCURRENCY", help="Jobs in flight per node.")
@option("-q", "--queues", default=None, envvar="STREAMQ_QUEUES",
              help="Comma-separated queues (default: every queue the app's tasks name).")
@option("--processes", type=click.IntRange(1, 256), default=1,
              envvar="STREAMQ_PROCESSES", help="Nodes run as child processes.")
@option("--burst", is_flag=True, help="Exit once the queues are empty.")
@option("--grace-period", type=float, default=None, envvar="STREAMQ_GRACE_PERIOD_S",
        help="Seconds in-flight jobs get after SIGTERM.")
@option("--priority-weights", default=None, envvar="STREAMQ_PRIORITY_WEIGHTS",
        help="Weighted fetching, e.g. high=6,normal=3,low=1.")
@option("--metrics-port", type=click.IntRange(1, 65_535), default=None,
        envvar="STREAMQ_METRICS_PORT", help="Serve /metrics on this port (one process only).")
@option("--metrics-host", default="127.0.0.1", envvar="STREAMQ_METRICS_HOST",
        help="Address of /metrics (0.0.0.0 in a container).")
def worker(
    app_spec: str,
    concurrency: int | None,
    queues: str | None,
    processes: int,
    burst: bool,
    grace_period: float | None,
    priority_weights: str | None,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run a worker node (or several, with --processes) for APP."""
    weights = _weights(priority_weights)
    if processes > 1 and metrics_port:
        raise click.UsageError("--metrics-port serves one process: run one worker process "
                               "per container (replicas) instead of --processes")
    if metrics_port:
        _serve_metrics(metrics_host, metrics_port)
    if processes > 1:
        options = [*(["-c", str(concurrency)] if concurrency else []),
                   *(["-q", queues] if queues else []),
                   *(["--grace-period", str(grace_period)] if grace_period is not None else []),
                   *(["--priority-weights", priority_weights] if priority_weights else []),
                   *(["--burst"] if burst else [])]
        sys.exit(run_children(child_command(app_spec, options), processes, burst))
    app = load(app_spec)
    queue_list = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    sys.exit(run_node(app, concurrency, queue_list, weights, burst, grace_period))


def _serve_metrics(host: str, port: int) -> None:
    from ..worker.probes import serve_probes

    try:
        serve_probes(host, port)
    except OSError as exc:
        click.echo(f"error: cannot serve metrics on {host}:{port}: {exc.strerror or exc}",
                   err=True)
        sys.exit(EXIT_USAGE)
    logging.getLogger("streamq").info("metrics on http://%s:%d/metrics (and /livez, /readyz)",
                                      host, port)


@click.command()
@click.argument("app_spec", metavar="APP")
@option("--host", default="127.0.0.1", envvar="STREAMQ_API_HOST",
        help="Address to listen on (0.0.0.0 in a container).")
@option("--port", type=click.IntRange(1, 65_535), default=8000, envvar="STREAMQ_API_PORT")
def api(app_spec: str, host: str, port: int) -> None:
    """Serve the HTTP API of APP (no worker: run `streamq worker` beside it)."""
    from ..api import run_api

    application = load(app_spec)
    run_api(application, bind_or_exit(host, port))


def bind_or_exit(host: str, port: int) -> socket.socket:
    """The API's listening socket; a taken port exits 2 with one line."""
    from ..api.listen import PortUnavailable, listen_socket

    try:
        return listen_socket(host, port)
    except PortUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)


def run_node(
    app: App,
    concurrency: int | None = None,
    queues: Sequence[str] | None = None,
    weights: dict[str, int] | None = None,
    burst: bool = False,
    grace_period_s: float | None = None,
) -> int:
    from ..worker import Node

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


@click.command()
@click.argument("app_spec", metavar="APP", default="streamq.demo:app")
@option("-c", "--concurrency", type=click.IntRange(1, 10_000), default=None)
@option("--seed/--no-seed", default=True,
              help="Enqueue the jobs of the app module's `seed(app)` function, if any.")
@option("--host", default="127.0.0.1", envvar="STREAMQ_API_HOST")
@option("--port", type=int, default=8000, envvar="STREAMQ_API_PORT")
@option("--exit-after", type=float, default=None,
              help="Stop after this many seconds (for scripted runs).")
def dev(
    app_spec: str,
    concurrency: int | None,
    seed: bool,
    host: str,
    port: int,
    exit_after: float | None,
) -> None:
    """Run the API, a worker and its scheduler in one process, on a private redis-server
    (it prints where) when STREAMQ_REDIS_URL is unset."""
    from ..dev import run_dev

    sys.exit(run_dev(app_spec, concurrency, seed, bind_or_exit(host, port), exit_after))

