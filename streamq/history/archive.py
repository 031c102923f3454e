"""The PostgreSQL side of the history archive: the only code that talks to PostgreSQL.

asyncpg (extra `streamq[postgres]`) is imported when the first connection is made, so a
process without an archive configured never loads it. Every failure to reach or use the
database becomes `HistoryUnavailable`; callers never see a driver exception.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import HistoryUnavailable
from ..job import Job
from . import schema
from .query import HistoryFilter, RowKey
from .rows import COLUMNS, SQL_TYPES, Row, stripped, to_job
from .search import search_sql

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("streamq.history")

_INSERT = (
    f"INSERT INTO {schema.TABLE} ({', '.join(COLUMNS)}) "
    f"SELECT * FROM unnest({', '.join(f'${i + 1}::{t}[]' for i, t in enumerate(SQL_TYPES))}) "
    "ON CONFLICT DO NOTHING"
)
_FINISHED = COLUMNS.index("finished_at")
_PARTITIONS = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1"
)


def _driver() -> Any:
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - depends on the installation
        raise HistoryUnavailable(
            "the history archive needs asyncpg: pip install 'streamq[postgres]'"
        ) from None
    return asyncpg


class HistoryArchive:
    """A pool of connections to the archive database, opened on first use."""

    def __init__(
        self,
        url: str,
        retention_days: int,
        connect_timeout_s: float = 5.0,
        command_timeout_s: float = 30.0,
        max_connections: int = 4,
    ) -> None:
        self.url = url
        self.retention_days = retention_days
        self.connect_timeout_s = connect_timeout_s
        self.command_timeout_s = command_timeout_s
        self.max_connections = max_connections
        self._pool: asyncpg.Pool | None = None
        self._lock = anyio.Lock()
        self._partitions: set[date] = set()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with anyio.move_on_after(5, shield=True):
                await pool.close()
                return
            pool.terminate()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy[Any]]:
        """One pooled connection; any failure to reach or use it is HistoryUnavailable."""
        asyncpg = _driver()
        try:
            pool = await self._open()
            async with pool.acquire(timeout=self.connect_timeout_s) as conn:
                yield conn
        except HistoryUnavailable:
            raise
        except asyncpg.DataError:
            raise
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise HistoryUnavailable(_describe(exc)) from exc

    async def _open(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await _driver().create_pool(
                    self.url, min_size=0, max_size=self.max_connections,
                    timeout=self.connect_timeout_s, command_timeout=self.command_timeout_s,
                    server_settings={"application_name": "streamq"},
                )
            return self._pool

    async def ping(self) -> None:
        async with self.connection() as conn:
            await conn.fetchval("SELECT 1")

    # -- schema ----------------------------------------------------------------------------

    async def migrate(self) -> list[int]:
        """Apply the migrations this database lacks, in order, each in the transaction that
        records it; safe to run from many processes at once. Returns the versions applied."""
        applied: list[int] = []
        async with self.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", schema.MIGRATE_LOCK)
            await conn.execute(schema.CREATE_MIGRATIONS_TABLE)
            done = {r["version"] for r in await conn.fetch(
                f"SELECT version FROM {schema.MIGRATIONS_TABLE}")}
            newest = max(m.version for m in schema.MIGRATIONS)
            if done and max(done) > newest:
                raise HistoryUnavailable(
                    f"the archive's schema is at version {max(done)}, newer than this "
                    f"streamq knows ({newest}): upgrade streamq"
                )
            for migration in schema.MIGRATIONS:
                if migration.version in done:
                    continue
                for statement in migration.statements:
                    await conn.execute(statement)
                await conn.execute(
                    f"INSERT INTO {schema.MIGRATIONS_TABLE} (version, name) VALUES ($1, $2)",
                    migration.version, migration.name,
                )
                applied.append(migration.version)
        await self.maintain()
        return applied

    async def versions(self) -> list[int]:
        async with self.connection() as conn:
            exists = await conn.fetchval("SELECT to_regclass($1)", schema.MIGRATIONS_TABLE)
            if exists is None:
                return []
            rows = await conn.fetch(
                f"SELECT version FROM {schema.MIGRATIONS_TABLE} ORDER BY version")
            return [int(r["version"]) for r in rows]

    async def partitions(self) -> list[date]:
        async with self.connection() as conn:
            names = [r["relname"] for r in await conn.fetch(_PARTITIONS, schema.TABLE)]
        return sorted(d for d in map(schema.partition_day, names) if d is not None)

    async def ensure_partitions(self, days: Iterable[date]) -> int:
        """Create the partitions of `days` that do not exist yet; returns how many."""
        missing = sorted(set(days) - self._partitions)
        if not missing:
            return 0
        async with self.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", schema.PARTITION_LOCK)
            for day in missing:
                await conn.execute(schema.create_partition(day))
        self._partitions.update(missing)
        return len(missing)

    async def maintain(self, now: datetime | None = None) -> tuple[int, int]:
        """Create the coming days' partitions and drop those past the retention.
        Returns (partitions created, partitions dropped)."""
        now = now or datetime.now(UTC)
        created = await self.ensure_partitions(schema.days_ahead(now.date()))
        old = schema.expired(await self.partitions(), now, self.retention_days)
        if old:
            async with self.connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", schema.PARTITION_LOCK)
                for day in old:
                    await conn.execute(f"DROP TABLE IF EXISTS {schema.partition_name(day)}")
            self._partitions.difference_update(old)
            log.info("history retention: dropped %d daily partitions", len(old))
        return created, len(old)

    # -- writing -----------------------------------------------------------------------------

    async def write(self, rows: Sequence[Row]) -> int:
        """Insert rows in one statement (one transaction); rows already archived are kept
        as they are. Returns the rows new to the archive.

        A batch PostgreSQL refuses for its data (a value it cannot store) is written row by
        row, and a row refused again is written stripped of its documents and texts, so one
        odd job never stops the archive. Any other failure raises HistoryUnavailable and
        nothing is written."""
        if not rows:
            return 0
        await self.ensure_partitions({r[_FINISHED].astimezone(UTC).date() for r in rows})
        asyncpg = _driver()
        try:
            return await self._insert(rows)
        except HistoryUnavailable:
            self._partitions.clear()  # one may have been dropped meanwhile: check again
            raise
        except asyncpg.DataError as exc:
            log.warning("archive refused a batch (%s); writing it row by row", exc)
        written = 0
        for row in rows:
            try:
                written += await self._insert([row])
            except asyncpg.DataError as exc:
                log.error("archive refused job %s (%s); archived without its data", row[0], exc)
                written += await self._insert([stripped(row, str(exc))])
        return written

    async def _insert(self, rows: Sequence[Row]) -> int:
        async with self.connection() as conn:
            status = await conn.execute(_INSERT, *(list(col) for col in zip(*rows, strict=True)))
        return int(status.rsplit(" ", 1)[-1])

    # -- reading -----------------------------------------------------------------------------

    async def get(self, job_id: str) -> Job | None:
        """The job's newest archived terminal state, or None."""
        if "\x00" in job_id:  # PostgreSQL text cannot hold it: no archived job has it
            return None
        async with self.connection() as conn:
            record = await conn.fetchrow(
                f"SELECT * FROM {schema.TABLE} WHERE job_id = $1 "
                "ORDER BY finished_at DESC, run DESC LIMIT 1", job_id,
            )
        return None if record is None else to_job(dict(record.items()))

    async def search(
        self, flt: HistoryFilter, after: RowKey | None, limit: int
    ) -> tuple[list[Job], RowKey | None]:
        """Up to `limit` matching jobs, newest finished first, after the key `after`;
        with the key to continue from (None at the end)."""
        sql, args = search_sql(flt, after, limit + 1)
        async with self.connection() as conn:
            records = await conn.fetch(sql, *args)
        jobs = [to_job(dict(r.items())) for r in records[:limit]]
        if len(records) <= limit:
            return jobs, None
        last = records[limit - 1]
        return jobs, RowKey.of(last["finished_at"], last["job_id"], last["run"])


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if type(exc).__name__ == "UndefinedTableError":
        return f"the history schema is missing ({text}): run `streamq history migrate`"
    return f"the history archive is unavailable: {text}"
