"""Commands on jobs: enqueue, show one (optionally waiting for its end), list."""

from __future__ import annotations

import sys

import click
import orjson

from ..app import App
from ..job import Job
from .common import (
    EXIT_FAILURE,
    EXIT_INVALID,
    PRIORITY_CHOICE,
    STATUS_CHOICE,
    app_option,
    client_app,
    json_option,
    option,
    run,
)


@click.command()
@click.argument("type_", metavar="TYPE")
@option("--payload", default="{}", help="Payload as a JSON object.")
@option("--priority", type=PRIORITY_CHOICE, default=None)
@option("--delay", type=click.FloatRange(0), default=None, help="Seconds before it is due.")
@option("--key", "idempotency_key", default=None, help="Idempotency key.")
@option("--partition-key", default=None,
        help="Jobs of one partition key share a shard of a sharded queue.")
@option("--no-validate", is_flag=True,
        help="Without --app: enqueue even a type no live worker announces.")
@app_option
@json_option
def enqueue(type_: str, payload: str, priority: str | None, delay: float | None,
            idempotency_key: str | None, partition_key: str | None, no_validate: bool,
            app_spec: str | None, as_json: bool) -> None:
    """Enqueue one job of TYPE and print its id.

    With --app, the type and payload are checked against the app's tasks. Without it, the
    type must be one that the live workers of the queue announce (the payload is checked
    by the worker), unless --no-validate."""
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        click.echo(f"error: --payload is not valid JSON: {exc}", err=True)
        sys.exit(EXIT_INVALID)

    async def go(app: App) -> str:
        queue = None
        if app_spec is None and not no_validate:
            from ..known_tasks import queue_of_announced_task

            queue = await queue_of_announced_task(app, type_)
        return await app.enqueue(type_, body, priority=priority, delay=delay,
                                 idempotency_key=idempotency_key, queue=queue,
                                 partition_key=partition_key)

    job_id = run(client_app(app_spec), go)
    click.echo(orjson.dumps({"id": job_id}).decode() if as_json else job_id)


@click.command()
@click.argument("job_id", metavar="ID")
@option("--wait", "wait_s", type=click.FloatRange(0, min_open=True), default=None,
        help="Wait up to S seconds for the job to end (exit 1 if it has not).")
@app_option
@json_option
def job(job_id: str, wait_s: float | None, app_spec: str | None, as_json: bool) -> None:
    """Show one job's record (once it has ended, with --wait)."""
    from .render import echo_json, job_detail

    async def go(app: App) -> tuple[Job, bool]:
        if wait_s is None:
            return await app.get_job(job_id), True
        try:
            return await app.wait_for(job_id, timeout_s=wait_s), True
        except TimeoutError:
            return await app.get_job(job_id), False

    record, ended = run(client_app(app_spec), go, wait_s or 0.0)
    echo_json(record) if as_json else click.echo(job_detail(record))
    if not ended:
        click.echo(f"error: job {job_id} is still {record.status.value} after {wait_s:g} s",
                   err=True)
        sys.exit(EXIT_FAILURE)


@click.command()
@option("--status", type=STATUS_CHOICE, default=None)
@option("--type", "type_", default=None, envvar="STREAMQ_JOBS_TYPE",
        help="Only jobs of this task type.")
@option("--queue", default=None)
@option("--limit", type=click.IntRange(1, 1000), default=50)
@option("--cursor", default=None, help="next_cursor of the previous page.")
@app_option
@json_option
def jobs(status: str | None, type_: str | None, queue: str | None, limit: int,
         cursor: str | None, app_spec: str | None, as_json: bool) -> None:
    """List jobs, newest first."""
    from .render import echo_json, job_rows

    page = run(client_app(app_spec), lambda app: app.list_jobs(
        status=status, type=type_, queue=queue, limit=limit, cursor=cursor))
    if as_json:
        echo_json(page)
        return
    click.echo(job_rows(page.jobs))
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")

