"""list_jobs: newest first, cursor pages that stay exact while jobs move, bounded pages,
bad inputs refused; 10,000 jobs paged exactly once while a worker changes their states."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, JobRequest, Settings, ValidationError
from streamq.ops.pagination import Cursor
from tests.support.nodes import running_node
from tests.support.redis_state import snapshot


async def list_all(app: App, limit: int = 50, **filters: Any) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = await app.list_jobs(limit=limit, cursor=cursor, **filters)
        ids += [j.id for j in page.jobs]
        assert len(page.jobs) <= limit
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


async def test_newest_first_by_type_and_status(app: App) -> None:
    a = [await app.enqueue("a", {"n": n}) for n in range(5)]
    b = [await app.enqueue("b", {"n": n}) for n in range(3)]
    await app.cancel(a[1])
    assert await list_all(app, limit=2) == list(reversed(a + b))
    assert await list_all(app, type="a") == list(reversed(a))
    assert await list_all(app, status="cancelled") == [a[1]]
    assert await list_all(app, status="queued", type="a", limit=1) == [a[4], a[3], a[2], a[0]]
    page = await app.list_jobs(type="b", limit=3)
    assert [j.type for j in page.jobs] == ["b"] * 3
    assert (await app.list_jobs(status="succeeded")).jobs == []


async def test_pages_stay_exact_while_jobs_move(app: App) -> None:
    ids = [r.job_id for r in await app.enqueue_many([JobRequest("t") for _ in range(40)])]
    newest_first = await list_all(app)
    assert sorted(newest_first) == sorted(ids)
    first = await app.list_jobs(status="queued", limit=10)
    seen = [j.id for j in first.jobs]
    assert seen == newest_first[:10]
    # jobs already listed and jobs not yet listed change status, new jobs arrive
    for job_id in [*seen[:5], *newest_first[20:25]]:
        await app.cancel(job_id)
    await app.enqueue_many([JobRequest("t") for _ in range(5)])
    rest: list[str] = []
    cursor = first.next_cursor
    while cursor:
        page = await app.list_jobs(status="queued", limit=10, cursor=cursor)
        rest += [j.id for j in page.jobs]
        cursor = page.next_cursor
    assert not set(seen) & set(rest)
    assert rest == [j for j in newest_first[10:] if j not in newest_first[20:25]]
    # listing everything is by creation time: status changes never move a job
    all_ids = await list_all(app, limit=7)
    assert len(all_ids) == len(set(all_ids)) == 45


async def test_equal_scores_page_through_ties(app: App, redis_client: Redis) -> None:
    ids = [r.job_id for r in await app.enqueue_many([JobRequest("t") for _ in range(120)])]
    k = app.store.keys("default")
    await redis_client.zadd(k.index_all, dict.fromkeys(ids, 1_000))  # all tied
    listed = await list_all(app, limit=7)
    assert listed == sorted(ids, reverse=True)
    # a cursor whose item left the index still resumes at the right place
    page = await app.list_jobs(limit=10)
    await redis_client.zrem(k.index_all, page.jobs[-1].id)
    after = await app.list_jobs(limit=5, cursor=page.next_cursor)
    assert [j.id for j in after.jobs] == sorted(ids, reverse=True)[10:15]


async def test_expired_records_are_skipped_and_trimmed(app: App, redis_client: Redis) -> None:
    ids = [await app.enqueue("t") for _ in range(4)]
    k = app.store.keys("default")
    await redis_client.delete(k.job(ids[1]))
    assert await list_all(app) == [ids[3], ids[2], ids[0]]
    assert await list_all(app, type="t") == [ids[3], ids[2], ids[0]]
    assert await redis_client.zscore(k.index_all, ids[1]) is None
    assert await redis_client.zscore(k.index_type("t"), ids[1]) is None


async def test_lists_across_queues(app: App) -> None:
    @app.task("x", queue="one")
    async def x() -> None: ...

    @app.task("y", queue="two")
    async def y() -> None: ...

    ids = []
    for i in range(6):
        ids.append(await app.enqueue("x" if i % 2 else "y"))
    assert await list_all(app, limit=4) == list(reversed(ids))
    assert await list_all(app, queue="one") == [ids[5], ids[3], ids[1]]


async def test_status_and_type_uses_the_smaller_index(app: App) -> None:
    ids = [r.job_id for r in await app.enqueue_many([JobRequest("big") for _ in range(30)])]
    small = await app.enqueue("small")
    for job_id in ids[:3]:
        await app.cancel(job_id)
    page = await app.list_jobs(status="cancelled", type="big", limit=2)
    state = Cursor.decode(page.next_cursor or "", {"status": "cancelled", "type": "big",
                                                    "queue": None}, app.queues)
    assert state.kind == "status"
    assert await list_all(app, status="queued", type="small") == [small]


async def test_bad_listing_requests_are_refused_and_change_nothing(
    app: App, redis_client: Redis
) -> None:
    await app.enqueue("t")
    page = await app.list_jobs(type="t", limit=1)
    before = await snapshot(redis_client)
    for kwargs, field in [
        ({"status": "done"}, "status"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": True}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJ2IjoxfQ"}, "cursor"),
        ({"type": ""}, "type"),
        ({"queue": ""}, "queue"),
    ]:
        with pytest.raises(ValidationError) as err:
            await app.list_jobs(**kwargs)  # type: ignore[arg-type]
        assert err.value.field == field
    other = await app.list_jobs(type="t", limit=1)
    if other.next_cursor:
        with pytest.raises(ValidationError, match="other filters"):
            await app.list_jobs(type="u", cursor=other.next_cursor)
    assert page.jobs
    assert await snapshot(redis_client) == before


async def test_10000_jobs_page_exactly_once_while_a_worker_changes_them(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    app = App(settings_for())

    @app.task("a")
    async def a(n: int) -> int:
        await anyio.sleep(0.002)
        return n

    @app.task("b", max_retries=0)
    async def b(n: int) -> int:
        await anyio.sleep(0.002)
        if n % 3 == 0:
            raise RuntimeError("b fails sometimes")
        return n

    try:
        requests = [JobRequest("a" if n % 2 else "b", {"n": n}) for n in range(10_000)]
        ids: dict[str, str] = {}
        for start in range(0, len(requests), 1000):
            batch = requests[start : start + 1000]
            for r, res in zip(batch, await app.enqueue_many(batch), strict=True):
                ids[res.job_id] = r.type
        scans_before = await _scan_calls(redis_client)
        async with running_node(app, concurrency=10):
            with anyio.fail_after(5):
                while not (await app.list_jobs(status="succeeded", limit=1)).jobs:
                    await anyio.sleep(0.01)
            succeeded_at_start = set(await list_all(app, status="succeeded", limit=1000))
            everything = await list_all(app, limit=100)
            by_a = await list_all(app, type="a", limit=250)
            by_b = await list_all(app, type="b", limit=250)
            queued = await list_all(app, status="queued", limit=200)
            queued_a = await list_all(app, status="queued", type="a", limit=200)
            succeeded = await list_all(app, status="succeeded", limit=200)
            still_queued = set(await list_all(app, status="queued", limit=1000))
            moving = len(still_queued)
        assert 0 < moving < 10_000, "the worker was changing states while we listed"
        assert len(everything) == len(set(everything)) == 10_000
        assert set(everything) == set(ids)
        assert sorted(by_a) == sorted(j for j, t in ids.items() if t == "a")
        assert sorted(by_b) == sorted(j for j, t in ids.items() if t == "b")
        assert len(by_a) == len(set(by_a)) and len(by_b) == len(set(by_b))
        for listed in (queued, queued_a, succeeded):
            assert len(listed) == len(set(listed))
        assert still_queued <= set(queued)  # queued throughout: listed
        assert {j for j in still_queued if ids[j] == "a"} <= set(queued_a)
        assert succeeded_at_start <= set(succeeded)  # terminal: never missed
        assert await _scan_calls(redis_client) == scans_before  # no keyspace scans
    finally:
        await app.close()


async def _scan_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("scan", "keys"))
