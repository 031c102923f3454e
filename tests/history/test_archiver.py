"""The archiver actor against a real Redis and PostgreSQL: every terminal job archived once,
crash-safe between the write and the acknowledgement, entries of a dead archiver taken
over, PostgreSQL down only delaying the archive."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, Fail, HistoryUnavailable, JobRequest, JobStatus, Settings
from streamq.history import HistoryArchive
from streamq.history.health import ARCHIVE_HEALTH, ArchiveHealth
from streamq.history.schema import TABLE
from streamq.worker.archiver import Archiver
from tests.support.nodes import running_node
from tests.support.postgres import PrivatePostgres

ARCHIVE = "streamq:{default}:archive"


def register(app: App) -> None:
    @app.task("ok")
    async def ok(n: int) -> int:
        return n

    @app.task("bad", max_retries=0)
    async def bad(n: int) -> None:
        raise Fail(f"no {n}")

    @app.task("slow")
    async def slow() -> None:
        await anyio.sleep(30)


async def archived(archive: HistoryArchive) -> dict[tuple[str, int], str]:
    async with archive.connection() as conn:
        rows = await conn.fetch(f"SELECT job_id, run, status FROM {TABLE}")
    return {(r["job_id"], r["run"]): r["status"] for r in rows}


async def wait_archived(archive: HistoryArchive, count: int, timeout_s: float = 20) -> None:
    with anyio.fail_after(timeout_s):
        while len(await archived(archive)) < count:
            await anyio.sleep(0.05)


def archiver(app: App, archive: HistoryArchive, consumer: str = "a1",
             claim_idle_ms: int = 60_000, health: ArchiveHealth | None = None) -> Archiver:
    return Archiver(app.store, archive, health or ArchiveHealth(enabled=True),
                    "default", consumer, batch_size=100, block_ms=50,
                    claim_idle_ms=claim_idle_ms)


async def test_a_node_archives_every_terminal_job_once(
    history_app: App, archive: HistoryArchive, redis_client: Redis
) -> None:
    register(history_app)
    oks = [r.job_id for r in await history_app.enqueue_many(
        [JobRequest("ok", {"n": i}) for i in range(50)])]
    bads = [r.job_id for r in await history_app.enqueue_many(
        [JobRequest("bad", {"n": i}) for i in range(5)])]
    async with running_node(history_app):
        slow = await history_app.enqueue("slow")
        with anyio.fail_after(10):
            while (await history_app.get_job(slow)).status is not JobStatus.PROCESSING:
                await anyio.sleep(0.02)
        await history_app.cancel(slow)
        queued = await history_app.enqueue("ok", {"n": -1}, delay=60)
        await history_app.cancel(queued)
        await wait_archived(archive, 57)
        with anyio.fail_after(5):
            while await redis_client.xlen(ARCHIVE):
                await anyio.sleep(0.02)
    rows = await archived(archive)
    assert {j for j, _ in rows} == {*oks, *bads, slow, queued}
    assert rows[(slow, 1)] == "cancelled" and rows[(queued, 0)] == "cancelled"
    assert {rows[(j, 1)] for j in oks} == {"succeeded"}
    assert {rows[(j, 1)] for j in bads} == {"failed"}
    failed = await archive.get(bads[0])
    assert failed is not None and failed.error_type == "Fail" and failed.reason


async def test_a_crash_before_the_acknowledgement_archives_again_without_duplicates(
    history_app: App, archive: HistoryArchive, redis_client: Redis
) -> None:
    """A batch written but not acknowledged (the process died between the two) is read
    again by the restarted actor and written again: one row per job all the same."""
    register(history_app)
    ids = [r.job_id for r in await history_app.enqueue_many(
        [JobRequest("ok", {"n": i}) for i in range(30)])]
    await _finish_without_archiving(history_app, ids)
    store = history_app.store
    await store.archive_ensure_group("default")
    first = archiver(history_app, archive)
    first.batch_size = 20
    assert await first.archive_once() == 20  # one batch archived and acknowledged
    entries = await store.archive_read("default", "a1", 100, 50)  # the next batch: read,
    assert len(entries) == 10
    await archive.write([_row(e) for e in entries])  # written, and the process died here
    restarted = archiver(history_app, archive)  # same consumer name: own entries first
    assert await restarted.archive_once() == 10
    assert await redis_client.xlen(ARCHIVE) == 0
    assert set(await archived(archive)) == {(j, 1) for j in ids}


async def test_entries_held_by_a_dead_archiver_are_taken_over(
    history_app: App, archive: HistoryArchive, redis_client: Redis
) -> None:
    register(history_app)
    ids = [r.job_id for r in await history_app.enqueue_many(
        [JobRequest("ok", {"n": i}) for i in range(10)])]
    await _finish_without_archiving(history_app, ids)
    store = history_app.store
    await store.archive_ensure_group("default")
    assert len(await store.archive_read("default", "dead-node", 100, 50)) == 10  # then it died
    rescuer = archiver(history_app, archive, consumer="a2", claim_idle_ms=100)
    assert await rescuer.archive_once() == 0  # not idle long enough yet: new entries only
    await anyio.sleep(0.15)
    rescuer._next_claim = 0
    assert await rescuer.archive_once() == 10
    assert len(await archived(archive)) == 10 and await redis_client.xlen(ARCHIVE) == 0


async def test_postgres_down_delays_the_archive_and_never_the_jobs(
    settings_for: Callable[..., Settings], redis_client: Redis, private_pg: PrivatePostgres
) -> None:
    """The archive's server stops: jobs keep finishing at full speed, the node says the
    archive is unreachable, and every job is archived once the server is back."""
    app = App(settings_for(history_url=private_pg.url()))
    register(app)
    archive = HistoryArchive(private_pg.url(), retention_days=30)
    await archive.migrate()
    private_pg.stop()
    try:
        async with running_node(app):
            began = time.monotonic()
            ids = [r.job_id for r in await app.enqueue_many(
                [JobRequest("ok", {"n": i}) for i in range(200)])]
            for job_id in ids:
                await app.wait_for(job_id, timeout_s=10)
            assert time.monotonic() - began < 5
            with anyio.fail_after(10):
                while ARCHIVE_HEALTH.status()[0]:
                    await anyio.sleep(0.05)
            assert await redis_client.xlen(ARCHIVE) == 200
            private_pg.start()
            await wait_archived(archive, 200)
            with anyio.fail_after(5):
                while await redis_client.xlen(ARCHIVE):
                    await anyio.sleep(0.02)
            assert ARCHIVE_HEALTH.status() == (True, "ok")
    finally:
        await archive.close()
        await app.close()
    assert set(await archived(archive)) == {(j, 1) for j in ids}


async def test_without_an_archive_nothing_is_written_to_a_stream(
    app: App, redis_client: Redis
) -> None:
    register(app)
    async with running_node(app):
        job_id = await app.enqueue("ok", {"n": 1})
        await app.wait_for(job_id, timeout_s=10)
    assert not await redis_client.exists(ARCHIVE)
    with pytest.raises(HistoryUnavailable, match="no history archive"):
        await app.history()


def _row(entry: object) -> tuple[object, ...]:
    from streamq.history.rows import to_row

    return to_row(entry.queue, entry.fields)  # type: ignore[attr-defined]


async def _finish_without_archiving(app: App, ids: list[str]) -> None:
    """Run jobs to completion through the store (no node, so no archiver runs)."""
    store = app.store
    await store.ensure_groups("default")
    done: set[str] = set()
    from streamq.job import Outcome, OutcomeKind

    with anyio.fail_after(10):
        while len(done) < len(ids):
            fetched = await store.fetch("default", ("high", "normal", "low"), "w", 100)
            started = await store.start("w", fetched.deliveries)
            await store.finish([Outcome(d, OutcomeKind.SUCCEEDED, b"1") for d in started])
            done.update(d.job_id for d in started)
