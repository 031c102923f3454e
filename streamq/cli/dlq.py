"""The dead-letter queue commands: list, retry, delete, purge."""

from __future__ import annotations

import click
import orjson

from .common import (
    app_option,
    client_app,
    json_option,
    option,
    run,
)


@click.group()
def dlq() -> None:
    """Dead-letter queue: list, retry, delete, purge."""


@dlq.command("list")
@option("--queue", default=None)
@option("--type", "type_", default=None, envvar="STREAMQ_DLQ_LIST_TYPE")
@option("--limit", type=click.IntRange(1, 1000), default=50)
@app_option
@json_option
def dlq_list(queue: str | None, type_: str | None, limit: int, app_spec: str | None,
             as_json: bool) -> None:
    """List dead-lettered jobs, newest first."""
    from .render import echo_json, table

    page = run(client_app(app_spec), lambda a: a.dlq_list(queue=queue, type=type_,
                                                           limit=limit))
    if as_json:
        echo_json(page)
        return
    click.echo(table(["JOB", "TYPE", "QUEUE", "REASON", "ERROR", "FAILED"], [
        [d.job_id, d.type, d.queue, d.reason, d.error[:60],
         d.failed_at.isoformat(timespec="seconds")] for d in page.entries]))


@dlq.command("retry")
@click.argument("job_id", metavar="[ID]", required=False)
@option("--all", "all_", is_flag=True, help="Requeue every dead-lettered job.")
@option("--queue", default=None, help="With --all: only this queue.")
@app_option
@json_option
def dlq_retry(job_id: str | None, all_: bool, queue: str | None, app_spec: str | None,
              as_json: bool) -> None:
    """Requeue one dead-lettered job (ID), or every one (--all)."""
    if (job_id is None) == (not all_):
        raise click.UsageError("give one job ID or --all")
    app = client_app(app_spec)
    if all_:
        count = run(app, lambda a: a.dlq_requeue(queue=queue))
        click.echo(orjson.dumps({"requeued": count}).decode() if as_json
                   else f"requeued {count} jobs")
        return
    assert job_id is not None
    record = run(app, lambda a: a.dlq_retry(job_id))
    click.echo(record.model_dump_json() if as_json else f"{record.id} {record.status.value}")


@dlq.command("delete")
@click.argument("job_id", metavar="ID")
@option("--yes", is_flag=True, help="Confirm: the job's record is deleted too.")
@app_option
def dlq_delete(job_id: str, yes: bool, app_spec: str | None) -> None:
    """Delete one dead-letter entry and its job (needs --yes)."""
    if not yes:
        raise click.UsageError("deleting is final: add --yes")
    run(client_app(app_spec), lambda a: a.dlq_delete(job_id))
    click.echo(f"deleted {job_id}")


@dlq.command("purge")
@option("--yes", is_flag=True, help="Confirm: every dead-lettered job is deleted.")
@option("--queue", default=None, help="Only this queue (default: every queue of the app).")
@app_option
@json_option
def dlq_purge(yes: bool, queue: str | None, app_spec: str | None, as_json: bool) -> None:
    """Delete every dead-letter entry and its job (needs --yes)."""
    if not yes:
        raise click.UsageError("purging is final: add --yes")
    count = run(client_app(app_spec), lambda a: a.dlq_purge(queue))
    click.echo(orjson.dumps({"deleted": count}).decode() if as_json else f"deleted {count}")

