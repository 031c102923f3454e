"""Queue commands: pause and resume, inspect the numbers, health check."""

from __future__ import annotations

import sys

import click
import orjson

from ..app import App
from ..keys import QueueKeys
from ..stats import xinfo_commands
from .common import (
    EXIT_FAILURE,
    PRIORITY_CHOICE,
    app_option,
    client_app,
    json_option,
    option,
    run,
)


@click.group()
def queue() -> None:
    """Pause or resume fetching from a queue."""


def _pause_command(pause: bool) -> click.Command:
    verb = "pause" if pause else "resume"

    @click.command(verb, help=f"{verb.capitalize()} fetching from QUEUE (or one priority).")
    @click.argument("name", metavar="QUEUE")
    @option("--priority", type=PRIORITY_CHOICE, default=None)
    @app_option
    @json_option
    def command(name: str, priority: str | None, app_spec: str | None, as_json: bool) -> None:
        async def go(app: App) -> list[str]:
            await (app.pause(name, priority) if pause else app.resume(name, priority))
            return await app.paused(name)

        paused = run(client_app(app_spec), go)
        click.echo(orjson.dumps({"queue": name, "paused": paused}).decode() if as_json
                   else f"{name}: paused {','.join(paused) or 'nothing'}")

    return command


queue.add_command(_pause_command(True))
queue.add_command(_pause_command(False))


@click.command()
@option("--queue", "queues", multiple=True, help="Queue to show (repeatable; default: all).")
@app_option
@json_option
def inspect(queues: tuple[str, ...], app_spec: str | None, as_json: bool) -> None:
    """Queue numbers per priority (as GET /queues), and the redis-cli commands that show
    the same numbers."""
    from .render import echo_json, queue_rows

    app = client_app(app_spec)
    stats = run(app, lambda a: a.queue_stats(list(queues) or None))
    if as_json:
        echo_json({"queues": [q.model_dump(mode="json") for q in stats]})
        return
    click.echo(queue_rows(stats))
    click.echo("\nThe same numbers with redis-cli:")
    for name in app.registry.layout.expand(q.queue for q in stats):  # every shard's keys
        for line in xinfo_commands(QueueKeys(app.settings.prefix, name),
                                   app.settings.redis_url):
            click.echo(f"  {line}")


@click.command()
@option("--min-workers", type=click.IntRange(0), default=0,
        help="Also require this many live worker nodes.")
@app_option
def check(min_workers: int, app_spec: str | None) -> None:
    """Exit 0 when Redis answers (and enough workers are alive): for health checks.
    Exit 4 when Redis is unreachable, 1 when too few workers are alive."""
    async def go(app: App) -> int:
        await app.ping()
        if not min_workers:
            return 0
        return min(q.workers for q in await app.queue_stats())

    live = run(client_app(app_spec), go)
    if live < min_workers:
        click.echo(f"unhealthy: {live} live workers, need {min_workers}", err=True)
        sys.exit(EXIT_FAILURE)
    click.echo("ok")

