"""History archive benchmarks: what archiving costs and how fast it goes while jobs drain
at full speed, and how long payload searches take over a million archived rows.

    python -m benchmarks.history [--jobs 30000] [--repeats 3] [--rows 1000000]

Drain: one in-process worker node (concurrency 100) drains `--jobs` no-op jobs from a
private redis-server, three ways: without an archive, with one (a fresh database on the
machine's PostgreSQL), and with an archive whose PostgreSQL is unreachable (the archive
stream then keeps every terminal job). Reported: drain rate, Redis CPU per job (INFO cpu),
the archive's sustained rate (rows over the span between the first and the last row
archived) and its lag (archived_at - finished_at of every row, PostgreSQL's clock and
Redis's on the same machine), and Redis bytes per waiting archive entry.

Search: `--rows` rows generated inside PostgreSQL (INSERT ... SELECT generate_series, no
client round trip per row) over 30 daily partitions, vacuumed as autovacuum would, then
each search run through the library (`history_page`), median of `--repeats` after a
warm-up.

Prints a table; writes benchmarks/results/history.json. Medians of repeats throughout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import asyncpg
from redis.asyncio import Redis

from benchmarks.redis_server import private_redis
from benchmarks.stats import percentile
from streamq import App, JobRequest, Settings
from streamq.history import HistoryArchive, build_filter, history_page
from streamq.history.schema import TABLE
from streamq.worker import Node

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
OUT = Path(__file__).resolve().parent / "results" / "history.json"
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/none"


# -- databases ------------------------------------------------------------------------------


async def new_database() -> str:
    name = f"streamq_bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_database(url: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")
    finally:
        await conn.close()


# -- drain with and without an archive ----------------------------------------------------


async def redis_cpu_s(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def drain_once(redis_url: str, jobs: int, mode: str) -> dict[str, float]:
    """One drain of `jobs` no-op jobs; mode is off, on or pg-down."""
    db = await new_database() if mode == "on" else None
    history_url = {"off": None, "on": db, "pg-down": UNREACHABLE}[mode]
    app = App(Settings(redis_url=redis_url, history_url=history_url, concurrency=100))

    @app.task("noop", max_retries=0)
    async def noop(i: int) -> int:
        return i

    figures: dict[str, float] = {}
    try:
        async with Redis.from_url(redis_url) as redis:
            await redis.flushall()
            if app.history_archive is not None and mode == "on":
                await app.history_archive.migrate()
            for start in range(0, jobs, 1000):
                await app.enqueue_many([JobRequest("noop", {"i": i})
                                        for i in range(start, min(jobs, start + 1000))])
            succeeded = app.store.keys("default").index("succeeded")
            cpu0, own0 = await redis_cpu_s(redis), time.process_time()
            node = Node(app, concurrency=100)
            async with anyio.create_task_group() as tg:
                tg.start_soon(node.run)
                began = time.monotonic()
                while await redis.zcard(succeeded) < jobs:  # noqa: ASYNC110 - Redis state
                    await anyio.sleep(0.02)
                figures["drain_s"] = time.monotonic() - began
                figures["redis_cpu_us_per_job"] = (await redis_cpu_s(redis) - cpu0) / jobs * 1e6
                if mode == "on":
                    assert db is not None
                    await wait_archived(db, jobs)  # the worker's CPU includes archiving
                figures["worker_cpu_us_per_job"] = (time.process_time() - own0) / jobs * 1e6
                if mode == "on":
                    assert db is not None
                    figures |= await archive_figures(db)
                if mode == "pg-down":
                    key = app.store.keys("default").archive
                    waiting = await redis.xlen(key)
                    figures["archive_bytes_per_entry"] = (
                        await redis.memory_usage(key, samples=0) or 0) / max(1, waiting)
                    figures["archive_waiting"] = waiting
                node.stop()
                tg.cancel_scope.cancel()
    finally:
        await app.close()
        if db is not None:
            await drop_database(db)
    figures["jobs_per_s"] = jobs / figures["drain_s"]
    return figures


async def wait_archived(url: str, jobs: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        with anyio.fail_after(300):
            while await conn.fetchval(  # noqa: ASYNC110 - PostgreSQL state
                f"SELECT count(*) FROM {TABLE}"
            ) < jobs:
                await anyio.sleep(0.1)
    finally:
        await conn.close()


async def archive_figures(url: str) -> dict[str, float]:
    conn = await asyncpg.connect(url)
    try:
        lag = [float(r["ms"]) for r in await conn.fetch(
            f"SELECT extract(epoch FROM archived_at - finished_at) * 1000 AS ms FROM {TABLE}")]
        span = await conn.fetchval(
            f"SELECT extract(epoch FROM max(archived_at) - min(archived_at)) FROM {TABLE}")
    finally:
        await conn.close()
    return {"archive_rows_per_s": len(lag) / max(float(span), 1e-3),
            "lag_p50_ms": percentile(lag, 50), "lag_p99_ms": percentile(lag, 99)}


# -- search over a million rows -----------------------------------------------------------

GENERATE = f"""
INSERT INTO {TABLE} (job_id, run, finished_at, queue, type, priority, status, payload, result,
    error, error_type, fingerprint, attempt, max_retries, timeout_s, deliveries, lost,
    worker, created_at, scheduled_at, started_at)
SELECT lpad(to_hex(g), 32, '0'), 1, $3::timestamptz - (g % 1000000) * interval '2592 ms',
    'default', 'task.' || (g % 10), 'normal',
    CASE WHEN g % 20 = 0 THEN 'failed' WHEN g % 50 = 1 THEN 'cancelled' ELSE 'succeeded' END,
    jsonb_build_object('customer', jsonb_build_object('id', g % 10000), 'order', g,
                       'country', (ARRAY['fr', 'de', 'us', 'jp'])[g % 4 + 1],
                       'tags', jsonb_build_array('t' || (g % 100), 'all')),
    to_jsonb(g), CASE WHEN g % 20 = 0 THEN 'timed out' END,
    CASE WHEN g % 20 = 0 THEN 'TimeoutError' END,
    CASE WHEN g % 20 = 0 THEN 'f00d' END, 1, 3, 30.0, 1, 0, 'bench',
    $3::timestamptz - (g % 1000000 + 1) * interval '2592 ms',
    $3::timestamptz - (g % 1000000 + 1) * interval '2592 ms',
    $3::timestamptz - (g % 1000000) * interval '2592 ms'
FROM generate_series($1::bigint, $2::bigint) AS g
"""

SEARCHES: list[tuple[str, dict[str, Any], int]] = [
    ("payload.customer.id=1234 (0.01 %)", {"payload": {"customer.id": "1234"}}, 1),
    ("payload.tags=[\"t7\"] (1 %)", {"payload": {"tags": '["t7"]'}}, 1),
    ("payload.country=fr (25 %)", {"payload": {"country": "fr"}}, 1),
    ("status=failed & payload.customer.id=1240", {"status": "failed",
                                                    "payload": {"customer.id": "1240"}}, 1),
    ("payload.tags=[\"t7\"], 10th page", {"payload": {"tags": '["t7"]'}}, 10),
    ("type=task.3, 10th page", {"type": "task.3"}, 10),
]


async def search_bench(rows: int, repeats: int) -> dict[str, Any]:
    url = await new_database()
    archive = HistoryArchive(url, retention_days=60)
    try:
        await archive.migrate()
        now = datetime.now(UTC)
        await archive.ensure_partitions(now.date() - timedelta(days=d) for d in range(32))
        began = time.monotonic()
        async with archive.connection() as conn:
            for start in range(1, rows + 1, 100_000):
                await conn.execute(GENERATE, start, min(rows, start + 99_999), now)
            # what autovacuum does soon after a load: folds the GIN pending list in
            await conn.execute(f"VACUUM ANALYZE {TABLE}")
            size = await conn.fetchval("SELECT pg_size_pretty(pg_database_size("
                                       "current_database()))")
        load_s = time.monotonic() - began
        results: dict[str, Any] = {"rows": rows, "load_s": round(load_s, 1),
                                   "database_size": size, "searches": {}}
        for name, filters, page in SEARCHES:
            flt = build_filter(**filters)
            samples = []
            for i in range(repeats + 1):
                t0 = time.perf_counter()
                cursor, found = None, 0
                for _ in range(page):
                    result = await history_page(archive, flt, 50, cursor)
                    cursor, found = result.next_cursor, len(result.jobs)
                if i:  # the first run warms the cache
                    samples.append((time.perf_counter() - t0) * 1000 / page)
            results["searches"][name] = {"ms_per_page": round(statistics.median(samples), 2),
                                         "jobs_on_page": found}
        samples = []
        for i in range(repeats * 10 + 1):
            t0 = time.perf_counter()
            await archive.get(f"{12345 + i:032x}")
            if i:
                samples.append((time.perf_counter() - t0) * 1000)
        results["searches"]["one job by id (GET /jobs/{id} fallback)"] = {
            "ms_per_page": round(statistics.median(samples), 2), "jobs_on_page": 1}
        return results
    finally:
        await archive.close()
        await drop_database(url)


# -- main ------------------------------------------------------------------------------------


async def main(jobs: int, repeats: int, rows: int) -> dict[str, Any]:
    modes = ("off", "on", "pg-down")
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    with private_redis() as server:
        for _ in range(repeats):  # interleaved: the machine's noise falls on every mode
            for mode in modes:
                runs[mode].append(await drain_once(server.url, jobs, mode))
    drain = {mode: {k: round(statistics.median(r[k] for r in runs[mode]), 2)
                    for k in runs[mode][0]} for mode in modes}
    search = await search_bench(rows, repeats) if rows else {}
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"), "jobs": jobs,
            "repeats": repeats, "drain": drain, "search": search}


def render(result: dict[str, Any]) -> str:
    d = result["drain"]
    lines = [f"drain of {result['jobs']:,} no-op jobs, concurrency 100, medians of "
             f"{result['repeats']}", "",
             "| archive | jobs/s | Redis CPU µs/job | worker CPU µs/job | archived rows/s |"
             " lag p50 / p99 ms | bytes per waiting entry |", "|---|---|---|---|---|---|---|"]
    for mode, label in (("off", "none"), ("on", "PostgreSQL up"), ("pg-down", "PostgreSQL down")):
        f = d[mode]
        lag = f"{f['lag_p50_ms']:.0f} / {f['lag_p99_ms']:.0f}" if "lag_p50_ms" in f else "—"
        rate = f"{f['archive_rows_per_s']:,.0f}" if "archive_rows_per_s" in f else "—"
        size = f"{f['archive_bytes_per_entry']:,.0f}" if "archive_bytes_per_entry" in f else "—"
        lines.append(f"| {label} | {f['jobs_per_s']:,.0f} | {f['redis_cpu_us_per_job']:.0f} | "
                     f"{f['worker_cpu_us_per_job']:.0f} | {rate} | {lag} | {size} |")
    s = result["search"]
    if s:
        lines += ["", f"search over {s['rows']:,} archived rows ({s['database_size']}, loaded "
                  f"in {s['load_s']} s), 50 jobs a page, median ms per page", "",
                  "| search | ms per page | jobs on the page |", "|---|---|---|"]
        for name, f in s["searches"].items():
            lines.append(f"| {name} | {f['ms_per_page']} | {f['jobs_on_page']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    result = anyio.run(main, args.jobs, args.repeats, args.rows)
    print(render(result))
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
