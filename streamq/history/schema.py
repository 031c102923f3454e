"""The archive's schema: versioned migrations and daily partitions. SQL text only.

`streamq_job_history` is partitioned by range on `finished_at`, one partition per UTC day
(`streamq_job_history_YYYYMMDD`); retention drops whole partitions, which costs no vacuum
and no index maintenance. The primary key must hold the partition key, so a row is
identified by (job id, run, finished): one row per terminal transition. Re-archiving the
same transition (an archiver that crashed before acknowledging) carries the same finished
time, so `ON CONFLICT DO NOTHING` keeps one row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

TABLE = "streamq_job_history"
MIGRATIONS_TABLE = "streamq_history_migrations"
MIGRATE_LOCK = 0x5354524D51_01  # pg_advisory_xact_lock key: one migrator at a time
PARTITION_LOCK = 0x5354524D51_02
_PARTITION = re.compile(rf"^{TABLE}_(\d{{8}})$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "job history table, partitioned by finished day, with search indices", (
        f"""CREATE TABLE {TABLE} (
            job_id text NOT NULL,
            run integer NOT NULL,
            finished_at timestamptz NOT NULL,
            queue text NOT NULL,
            type text NOT NULL,
            priority text NOT NULL,
            status text NOT NULL,
            payload jsonb,
            result jsonb,
            error text,
            error_type text,
            fingerprint text,
            traceback text,
            reason text,
            attempt integer NOT NULL,
            max_retries integer NOT NULL,
            timeout_s double precision NOT NULL,
            deliveries integer NOT NULL,
            lost integer NOT NULL,
            worker text,
            progress double precision,
            progress_message text,
            created_at timestamptz,
            scheduled_at timestamptz,
            started_at timestamptz,
            archived_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (job_id, run, finished_at)
        ) PARTITION BY RANGE (finished_at)""",
        # Every search is ordered by (finished_at, job_id, run) descending: each filter's
        # index ends with those columns, so a page is one backward index range scan.
        f"CREATE INDEX {TABLE}_finished ON {TABLE} (finished_at, job_id, run)",
        f"CREATE INDEX {TABLE}_status ON {TABLE} (status, finished_at, job_id, run)",
        f"CREATE INDEX {TABLE}_type ON {TABLE} (type, finished_at, job_id, run)",
        f"CREATE INDEX {TABLE}_queue ON {TABLE} (queue, finished_at, job_id, run)",
        f"CREATE INDEX {TABLE}_error_type ON {TABLE} (error_type, finished_at, job_id, run)"
        " WHERE error_type IS NOT NULL",
        f"CREATE INDEX {TABLE}_fingerprint ON {TABLE} (fingerprint, finished_at, job_id, run)"
        " WHERE fingerprint IS NOT NULL",
        f"CREATE INDEX {TABLE}_payload ON {TABLE} USING gin (payload jsonb_path_ops)",
    )),
)

CREATE_MIGRATIONS_TABLE = f"""CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def partition_name(day: date) -> str:
    return f"{TABLE}_{day:%Y%m%d}"


def create_partition(day: date) -> str:
    """DDL of one day's partition ([day 00:00 UTC, next day 00:00 UTC)); idempotent."""
    start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{start} 00:00:00+00') TO ('{end} 00:00:00+00')"
    )


def partition_day(name: str) -> date | None:
    """The day a partition holds, from its name; None for a table that is not one."""
    match = _PARTITION.match(name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%d").date()


def expired(days: list[date], now: datetime, retention_days: int) -> list[date]:
    """Partitions wholly older than the retention: their last instant is before
    now - retention, so every row in them is."""
    cutoff = now - timedelta(days=retention_days)
    return [d for d in days if datetime(d.year, d.month, d.day, tzinfo=cutoff.tzinfo)
            + timedelta(days=1) <= cutoff]


def days_ahead(today: date, count: int = 3) -> list[date]:
    """Today and the next days: created ahead, so that a write never waits on DDL."""
    return [today + timedelta(days=i) for i in range(count)]
