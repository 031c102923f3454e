"""`streamq history`: the job archive in PostgreSQL (STREAMQ_HISTORY_URL): migrate its
schema, search it, show one archived job. Exit codes as every client command: 2 without
an archive configured or with a bad option, 3 job not found, 4 archive unavailable,
5 invalid filter."""

from __future__ import annotations

import sys
from datetime import datetime

import click
import orjson

from ..app import App
from ..errors import JobNotFound
from ..job import Job, JobStatus
from .common import EXIT_USAGE, json_option, option, run

TERMINAL = tuple(s.value for s in JobStatus if s.terminal)
"""The statuses the archive holds (`streamq.history.query.TERMINAL`, without importing the
archive into every command, the worker included)."""


def _archive_app() -> App:
    app = App()
    if app.history_archive is None:
        click.echo("error: STREAMQ_HISTORY_URL is not set: no history archive to use", err=True)
        sys.exit(EXIT_USAGE)
    return app


def _when(value: str | None, name: str) -> datetime | float | None:
    """Unix seconds or RFC 3339 with an offset."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise click.BadParameter("unix seconds or RFC 3339 with an offset", param_hint=name)
    return parsed


def _pairs(values: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for item in values:
        path, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected PATH=VALUE", param_hint="--payload")
        pairs.append((path, value))
    return pairs


@click.group()
def history() -> None:
    """The job history archive (PostgreSQL): migrate, search, show."""


@history.command()
@json_option
def migrate(as_json: bool) -> None:
    """Create or upgrade the archive's schema (safe to run again, and from many hosts)."""
    app = _archive_app()

    async def go(a: App) -> tuple[list[int], list[int]]:
        assert a.history_archive is not None
        applied = await a.history_archive.migrate()
        return applied, await a.history_archive.versions()

    applied, versions = run(app, go)
    if as_json:
        click.echo(orjson.dumps({"applied": applied, "version": max(versions)}).decode())
    elif applied:
        click.echo(f"migrated to version {max(versions)} (applied {applied})")
    else:
        click.echo(f"up to date at version {max(versions)}")


@history.command()
@option("--status", type=click.Choice(TERMINAL), default=None)
@option("--type", "type_", default=None, envvar="STREAMQ_HISTORY_SEARCH_TYPE")
@option("--queue", default=None)
@option("--since", default=None, help="Finished at or after (unix seconds or RFC 3339).")
@option("--until", default=None, help="Finished at or before (unix seconds or RFC 3339).")
@option("--payload", "payload", multiple=True, metavar="PATH=VALUE",
        help="Payload holds VALUE at the dotted PATH (repeatable; all must hold).")
@option("--error-type", default=None)
@option("--fingerprint", default=None, help="Error fingerprint (as in the DLQ).")
@option("--limit", type=click.IntRange(1, 1000), default=50)
@option("--cursor", default=None, help="next_cursor of the previous page.")
@json_option
def search(status: str | None, type_: str | None, queue: str | None, since: str | None,
           until: str | None, payload: tuple[str, ...], error_type: str | None,
           fingerprint: str | None, limit: int, cursor: str | None, as_json: bool) -> None:
    """Archived jobs, newest finished first."""
    from .render import echo_json, table

    since_at, until_at, pairs = _when(since, "--since"), _when(until, "--until"), _pairs(payload)
    page = run(_archive_app(), lambda a: a.history(
        status=status, type=type_, queue=queue, since=since_at, until=until_at, payload=pairs,
        error_type=error_type, fingerprint=fingerprint, limit=limit, cursor=cursor))
    if as_json:
        echo_json(page)
        return
    click.echo(table(["ID", "RUN", "TYPE", "QUEUE", "STATUS", "FINISHED", "ERROR"], [
        [j.id, j.run, j.type, j.queue, j.status.value,
         j.finished_at.isoformat(timespec="seconds") if j.finished_at else "",
         (j.error or "")[:60]] for j in page.jobs]))
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")


@history.command()
@click.argument("job_id", metavar="ID")
@json_option
def show(job_id: str, as_json: bool) -> None:
    """One archived job (its newest terminal state), even after Redis forgot it."""
    from .render import echo_json, job_detail

    async def go(a: App) -> Job:
        assert a.history_archive is not None
        job = await a.history_archive.get(job_id)
        if job is None:
            raise JobNotFound(f"no archived job {job_id!r}", job_id=job_id)
        return job

    job = run(_archive_app(), go)
    echo_json(job) if as_json else click.echo(job_detail(job))
