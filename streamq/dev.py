"""`streamq dev`: worker, scheduler and API in one process, on a private Redis if none is set.

Meant for a laptop: one command shows the whole system working. Production runs
`streamq worker` and `streamq api` as separate processes instead.
"""

from __future__ import annotations

import importlib
import logging
import socket
from collections.abc import Awaitable, Callable

import anyio
import click

from .app import App
from .dev_banner import banner
from .devredis import RedisServer
from .errors import StreamqError
from .job import JobStatus
from .loader import load_app
from .settings import Settings

log = logging.getLogger("streamq")


def run_dev(
    app_spec: str,
    concurrency: int | None,
    seed: bool,
    sock: socket.socket,
    exit_after: float | None,
) -> int:
    """Start Redis when needed, then run the node and the API (on `sock`, bound by the
    caller) until a signal or `exit_after`."""
    import os

    server: RedisServer | None = None
    if Settings().redis_url is None:
        server = RedisServer(appendfsync="everysec").start()
        os.environ["STREAMQ_REDIS_URL"] = server.url
        click.echo(f"started a private redis-server at {server.url} (data in {server.data_dir})")
    try:
        app = load_app(app_spec)
        return anyio.run(_serve, app, app_spec, concurrency, seed, sock, exit_after,
                         server is not None)
    finally:
        if server is not None:
            server.cleanup()
            click.echo("stopped the private redis-server")


async def _serve(
    app: App,
    app_spec: str,
    concurrency: int | None,
    seed: bool,
    sock: socket.socket,
    exit_after: float | None,
    private_redis: bool,
) -> int:
    from .api import create_app
    from .api.server import serve_api
    from .worker import Node

    node = Node(app, concurrency=concurrency, handle_signals=True)  # same SIGTERM/SIGINT path
    web_app = create_app(app)
    code = 0
    async with anyio.create_task_group() as tg:

        async def run_node() -> None:
            nonlocal code
            code = await node.run()
            tg.cancel_scope.cancel()

        tg.start_soon(run_node)
        tg.start_soon(serve_api, web_app, sock)
        await node.started.wait()
        click.echo(f"worker {node.name} running queues {','.join(node.queues)}")
        host, port = sock.getsockname()[:2]
        console = any(r.canonical.startswith("/ui") for r in web_app.router.resources())
        redis_url = app.settings.redis_url or ""
        for line in banner(app, redis_url, private_redis, f"http://{host}:{port}", console):
            click.echo(line)
        if seed:
            tg.start_soon(_seed_and_report, app, app_spec)
        if exit_after is not None:
            await anyio.sleep(exit_after)
            node.stop()
    await app.close()
    return code


async def _seed_and_report(app: App, app_spec: str) -> None:
    """Enqueue the app module's `seed(app)` jobs, then print each one's outcome."""
    module_name = app_spec.partition(":")[0] if ":" in app_spec else app_spec.rpartition(".")[0]
    module = importlib.import_module(module_name)
    seed_fn: Callable[[App], Awaitable[list[str]]] | None = getattr(module, "seed", None)
    if seed_fn is None:
        return
    try:
        job_ids = await seed_fn(app)
    except StreamqError as exc:
        click.echo(f"seeding failed: {exc}")
        return
    click.echo(f"enqueued {len(job_ids)} demo jobs")
    for job_id in job_ids:
        try:
            job = await app.wait_for(job_id, timeout_s=30)
        except TimeoutError:
            click.echo(f"  {job_id}: still not finished after 30 s")
            continue
        detail = job.result if job.status is JobStatus.SUCCEEDED else f"{job.reason}: {job.error}"
        click.echo(
            f"  {job.type:<12} {job.status.value:<10} attempts={job.attempt} -> {detail}"
        )
