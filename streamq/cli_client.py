"""The `streamq` client commands: submit, inspect and control jobs and queues.

They call the library's App (never Redis directly), print a table by default and JSON with
`--json`, and exit with the documented codes (see `streamq.cli`).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import click
import orjson

from .app import App
from .errors import BackendUnavailable, JobNotFound, StreamqError
from .job import Job, JobStatus, Priority
from .keys import QueueKeys
from .loader import load_app
from .stats import xinfo_commands

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
    from .config_report import redis_origin

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


@click.command()
@click.argument("type_", metavar="TYPE")
@option("--payload", default="{}", help="Payload as a JSON object.")
@option("--priority", type=PRIORITY_CHOICE, default=None)
@option("--delay", type=click.FloatRange(0), default=None, help="Seconds before it is due.")
@option("--key", "idempotency_key", default=None, help="Idempotency key.")
@option("--no-validate", is_flag=True,
        help="Without --app: enqueue even a type no live worker announces.")
@app_option
@json_option
def enqueue(type_: str, payload: str, priority: str | None, delay: float | None,
            idempotency_key: str | None, no_validate: bool, app_spec: str | None,
            as_json: bool) -> None:
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
            from .known_tasks import queue_of_announced_task

            queue = await queue_of_announced_task(app, type_)
        return await app.enqueue(type_, body, priority=priority, delay=delay,
                                 idempotency_key=idempotency_key, queue=queue)

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
    from .cli_output import echo_json, job_detail

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
    from .cli_output import echo_json, job_rows

    page = run(client_app(app_spec), lambda app: app.list_jobs(
        status=status, type=type_, queue=queue, limit=limit, cursor=cursor))
    if as_json:
        echo_json(page)
        return
    click.echo(job_rows(page.jobs))
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")


# -- dead letters --------------------------------------------------------------------------


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
    from .cli_output import echo_json, table

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


# -- queues --------------------------------------------------------------------------------


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
    from .cli_output import echo_json, queue_rows

    app = client_app(app_spec)
    stats = run(app, lambda a: a.queue_stats(list(queues) or None))
    if as_json:
        echo_json({"queues": [q.model_dump(mode="json") for q in stats]})
        return
    click.echo(queue_rows(stats))
    click.echo("\nThe same numbers with redis-cli:")
    for q in stats:
        for line in xinfo_commands(QueueKeys(app.settings.prefix, q.queue),
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


COMMANDS = [enqueue, job, jobs, dlq, queue, inspect, check]
