"""The PostgreSQL side: migrations, partitions, idempotent writes, retention, reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streamq import HistoryUnavailable
from streamq.history import HistoryArchive, build_filter
from streamq.history.rows import COLUMNS, to_row
from streamq.history.schema import MIGRATIONS, TABLE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def record(job_id: str, run: int = 1, status: str = "succeeded", finished: datetime = NOW,
           **extra: str) -> dict[bytes, bytes]:
    fields = {
        "id": job_id, "type": "mail.send", "payload": '{"to":"a@b.c","n":1}',
        "priority": "normal", "status": status, "attempt": "1", "max_retries": "3",
        "timeout": "30.0", "deliveries": "1", "lost": "0", "run": str(run),
        "created": str(int(finished.timestamp() * 1000) - 50),
        "due": str(int(finished.timestamp() * 1000) - 50),
        "started": str(int(finished.timestamp() * 1000) - 10),
        "finished": str(int(finished.timestamp() * 1000)), "worker": "w1", "result": "42",
        **extra,
    }
    return {k.encode(): v.encode() for k, v in fields.items()}


async def rows_of(archive: HistoryArchive) -> list[tuple[str, int]]:
    async with archive.connection() as conn:
        found = await conn.fetch(f"SELECT job_id, run FROM {TABLE} ORDER BY job_id, run")
    return [(r["job_id"], r["run"]) for r in found]


async def test_migrate_is_versioned_and_idempotent(history_url: str) -> None:
    archive = HistoryArchive(history_url, retention_days=30)
    try:
        assert await archive.versions() == []
        assert await archive.migrate() == [m.version for m in MIGRATIONS]
        assert await archive.migrate() == []
        assert await archive.versions() == [m.version for m in MIGRATIONS]
        today = datetime.now(UTC).date()
        assert [today + timedelta(days=i) for i in range(3)] == (await archive.partitions())[:3]
    finally:
        await archive.close()


async def test_a_newer_schema_is_refused(archive: HistoryArchive) -> None:
    async with archive.connection() as conn:
        await conn.execute("INSERT INTO streamq_history_migrations VALUES (999, 'future')")
    with pytest.raises(HistoryUnavailable, match="newer than this streamq"):
        await archive.migrate()


async def test_writes_are_idempotent_on_job_run_and_finish(archive: HistoryArchive) -> None:
    rows = [to_row("default", record("a")), to_row("default", record("b", run=2))]
    assert await archive.write(rows) == 2
    assert await archive.write(rows) == 0  # an archiver that crashed before acknowledging
    assert await archive.write([*rows, to_row("default", record("c"))]) == 1
    assert await rows_of(archive) == [("a", 1), ("b", 2), ("c", 1)]


async def test_a_row_lands_in_its_days_partition_created_on_demand(
    archive: HistoryArchive,
) -> None:
    old = NOW - timedelta(days=3)
    await archive.write([to_row("default", record("a", finished=old))])
    assert old.date() in await archive.partitions()
    async with archive.connection() as conn:
        where = await conn.fetchval(f"SELECT tableoid::regclass::text FROM {TABLE}")
    assert where == f"{TABLE}_{old:%Y%m%d}"


async def test_nul_characters_are_stored_as_replacement_characters(
    archive: HistoryArchive,
) -> None:
    rec = record("a", payload='{"text":"a\\u0000b"}', error="bad\x00byte", status="failed")
    await archive.write([to_row("default", rec)])
    job = await archive.get("a")
    assert job is not None
    assert job.payload == {"text": "a\ufffdb"} and job.error == "bad\ufffdbyte"


async def test_a_row_postgres_refuses_is_archived_without_its_data(
    archive: HistoryArchive,
) -> None:
    """One row PostgreSQL refuses must not stop the archive: the batch is written row by
    row and that row is kept, stripped of its data."""
    good = to_row("default", record("good"))
    bad = list(to_row("default", record("bad")))
    bad[COLUMNS.index("payload")] = '{"x": '  # not JSON: PostgreSQL refuses it (22P02)
    assert await archive.write([good, tuple(bad)]) == 2
    job = await archive.get("bad")
    assert job is not None and job.payload is None
    assert job.reason is not None and job.reason.startswith("not archivable")
    assert (await archive.get("good")) is not None


async def test_retention_drops_whole_expired_partitions(history_url: str) -> None:
    archive = HistoryArchive(history_url, retention_days=2)
    try:
        await archive.migrate()
        now = datetime.now(UTC)
        days = [now - timedelta(days=d) for d in (0, 1, 2, 3, 5)]
        await archive.write([to_row("default", record(f"j{i}", finished=d))
                             for i, d in enumerate(days)])
        _, dropped = await archive.maintain(now)
        assert dropped == 2  # 3 and 5 days ago: wholly older than now - 2 days
        assert await rows_of(archive) == [("j0", 1), ("j1", 1), ("j2", 1)]
        assert (now - timedelta(days=3)).date() not in await archive.partitions()
    finally:
        await archive.close()


async def test_get_returns_the_newest_terminal_state(archive: HistoryArchive) -> None:
    await archive.write([
        to_row("default", record("a", run=1, status="failed", finished=NOW)),
        to_row("default", record("a", run=2, finished=NOW + timedelta(seconds=5))),
    ])
    job = await archive.get("a")
    assert job is not None
    assert (job.run, job.status, job.source, job.result) == (2, "succeeded", "history", 42)
    assert job.payload == {"to": "a@b.c", "n": 1}
    assert await archive.get("nope") is None


async def test_an_unreachable_archive_is_history_unavailable(history_url: str) -> None:
    archive = HistoryArchive("postgresql://postgres@127.0.0.1:1/x", retention_days=1,
                             connect_timeout_s=1)
    try:
        with pytest.raises(HistoryUnavailable):
            await archive.ping()
        with pytest.raises(HistoryUnavailable):
            await archive.search(build_filter(), None, 10)
    finally:
        await archive.close()


async def test_a_missing_schema_says_to_migrate(history_url: str) -> None:
    archive = HistoryArchive(history_url, retention_days=1)
    try:
        with pytest.raises(HistoryUnavailable, match="streamq history migrate"):
            await archive.get("a")
    finally:
        await archive.close()

