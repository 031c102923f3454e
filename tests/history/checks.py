"""What the history tests check in PostgreSQL: rows per (job id, run), waited for."""

from __future__ import annotations

import time
from collections import Counter

import anyio
import asyncpg
from redis.asyncio import Redis

from streamq.history.schema import TABLE
from tests.support.observe import TERMINAL, statuses


async def row_counts(url: str) -> Counter[tuple[str, int]]:
    """How many rows each (job id, run) has in the archive."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        rows = await conn.fetch(f"SELECT job_id, run, count(*) AS n FROM {TABLE} "
                                "GROUP BY job_id, run")
    finally:
        await conn.close()
    return Counter({(r["job_id"], r["run"]): r["n"] for r in rows})


async def wait_rows(url: str, jobs: int, timeout_s: float) -> float:
    """Wait until the archive holds rows of `jobs` distinct jobs; returns the seconds taken."""
    began = time.monotonic()
    with anyio.fail_after(timeout_s):
        while True:
            try:
                counts = await row_counts(url)
            except (OSError, asyncpg.PostgresError):
                counts = Counter()
            if len({job_id for job_id, _ in counts}) >= jobs:
                return time.monotonic() - began
            await anyio.sleep(0.2)


async def wait_finished(redis: Redis, ids: list[str], timeout_s: float) -> float:
    """Wait until every job is terminal or already forgotten (a record exists from enqueue
    on, so a missing one finished and expired); returns the seconds it took."""
    began = time.monotonic()
    remaining = list(ids)
    with anyio.fail_after(timeout_s):
        while remaining:
            found = await statuses(redis, remaining)
            remaining = [j for j, s in zip(remaining, found, strict=True)
                         if s is not None and s not in TERMINAL]
            await anyio.sleep(0.1)
    return time.monotonic() - began


async def latencies_ms(url: str, job_ids: list[str]) -> list[float]:
    """finished - created of each job, from the archive (PostgreSQL's own arithmetic)."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        rows = await conn.fetch(
            f"SELECT extract(epoch FROM finished_at - created_at) * 1000 AS ms FROM {TABLE} "
            "WHERE job_id = ANY($1::text[])", job_ids)
    finally:
        await conn.close()
    return sorted(float(r["ms"]) for r in rows)
