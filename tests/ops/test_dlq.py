"""Dead-letter management: list with reason, error type and fingerprint; requeue one or by
filter under the same id with a fresh budget; delete; purge; retention by count and age."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from streamq import App, Context, Fail, JobNotFound, Settings, ValidationError
from streamq.fingerprint import error_fingerprint
from streamq.worker.janitor import Janitor
from tests.support.clock import redis_ms
from tests.support.nodes import running_node
from tests.support.redis_state import snapshot


def failing_app(app: App) -> dict[str, int]:
    calls: dict[str, int] = {}

    @app.task("charge", max_retries=1, retry_backoff=0.01)
    async def charge(order: int, ctx: Context) -> int:
        calls[ctx.job_id] = calls.get(ctx.job_id, 0) + 1
        if order >= 0:
            raise ConnectionError(f"gateway 10.0.0.{order} timed out after {order * 7} ms")
        return order

    @app.task("mail", max_retries=0)
    async def mail(to: str) -> None:
        raise Fail(f"mailbox {to!r} does not exist")

    return calls


async def dead(app: App, ids: list[str]) -> None:
    async with running_node(app, concurrency=8):
        for job_id in ids:
            assert (await app.wait_for(job_id, timeout_s=10)).status == "failed"


async def test_list_with_reason_error_type_and_fingerprint(app: App) -> None:
    failing_app(app)
    charges = [await app.enqueue("charge", {"order": n}) for n in range(3)]
    mails = [await app.enqueue("mail", {"to": f"u{n}@x.org"}) for n in range(2)]
    await dead(app, charges + mails)
    page = await app.dlq_list()
    assert len(page.entries) == 5 and page.next_cursor is None
    assert [e.failed_at for e in page.entries] == sorted(
        (e.failed_at for e in page.entries), reverse=True
    )
    charge = next(e for e in page.entries if e.type == "charge")
    assert (charge.reason, charge.error_type, charge.attempt) == (
        "retries exhausted", "ConnectionError", 2
    )
    assert "timed out" in charge.error and charge.queue == "default"
    mail = next(e for e in page.entries if e.type == "mail")
    assert mail.error_type == "Fail" and mail.reason.endswith("does not exist")
    # one fingerprint per kind of failure, whatever the numbers and names in the message
    prints = {e.type: set() for e in page.entries}
    for e in page.entries:
        prints[e.type].add(e.fingerprint)
    assert len(prints["charge"]) == 1 and len(prints["mail"]) == 1
    assert prints["charge"] != prints["mail"]
    only = await app.dlq_list(fingerprint=charge.fingerprint, limit=2)
    assert [e.type for e in only.entries] == ["charge", "charge"] and only.next_cursor
    rest = await app.dlq_list(fingerprint=charge.fingerprint, limit=2, cursor=only.next_cursor)
    assert len(rest.entries) == 1 and rest.next_cursor is None
    assert {e.job_id for e in (await app.dlq_list(type="mail")).entries} == set(mails)


def test_fingerprint_masks_varying_parts() -> None:
    a = error_fingerprint("KeyError", "user 123 'alice' id 9f86d081884c7d65 missing")
    b = error_fingerprint("KeyError", "user 77 'bob' id 0cc175b9c0f1b6a8 missing")
    assert a == b
    assert a != error_fingerprint("ValueError", "user 123 'alice' id 9f86d081884c7d65 missing")


async def test_requeue_one_keeps_the_id_and_gives_a_fresh_budget(app: App) -> None:
    calls = failing_app(app)
    job_id = await app.enqueue("charge", {"order": 1})
    await dead(app, [job_id])
    assert calls[job_id] == 2
    job = await app.dlq_retry(job_id)
    assert (job.id, job.status, job.attempt) == (job_id, "queued", 1)
    assert (await app.dlq_list()).entries == []
    with pytest.raises(JobNotFound, match="not in the dead-letter queue"):
        await app.dlq_retry(job_id)
    await dead(app, [job_id])
    assert calls[job_id] == 4  # two more attempts: a fresh budget
    assert [e.job_id for e in (await app.dlq_list()).entries] == [job_id]


async def test_requeue_by_filter(app: App) -> None:
    failing_app(app)
    charges = [await app.enqueue("charge", {"order": n}) for n in range(4)]
    mails = [await app.enqueue("mail", {"to": "a@b.c"})]
    await dead(app, charges + mails)
    fp = (await app.dlq_list(type="charge", limit=1)).entries[0].fingerprint
    assert await app.dlq_requeue(type="mail", fingerprint=fp) == 0
    future = datetime.now(tz=UTC) + timedelta(hours=1)
    assert await app.dlq_requeue(since=future) == 0
    assert await app.dlq_requeue(type="charge", fingerprint=fp, until=future) == 4
    for job_id in charges:
        job = await app.get_job(job_id)
        assert (job.status, job.attempt) == ("queued", 1)
    assert [e.job_id for e in (await app.dlq_list()).entries] == mails


async def test_delete_and_purge(app: App, redis_client: Redis) -> None:
    failing_app(app)
    ids = [await app.enqueue("mail", {"to": f"{n}@x"}) for n in range(5)]
    await dead(app, ids)
    await app.dlq_delete(ids[0])
    with pytest.raises(JobNotFound):
        await app.get_job(ids[0])
    k = app.store.keys("default")
    assert await redis_client.zscore(k.index_all, ids[0]) is None
    assert await redis_client.zscore(k.index("failed"), ids[0]) is None
    assert await app.dlq_purge() == 4
    assert (await app.dlq_list()).entries == []
    assert await redis_client.xlen(k.dead) == 0
    assert (await app.list_jobs()).jobs == []


async def test_refusals_change_nothing(app: App, redis_client: Redis) -> None:
    failing_app(app)
    ok = await app.enqueue("charge", {"order": -1})
    failed = await app.enqueue("mail", {"to": "x"})
    async with running_node(app, concurrency=2):
        await app.wait_for(ok, timeout_s=5)
        await app.wait_for(failed, timeout_s=5)
    before = await snapshot(redis_client)
    with pytest.raises(JobNotFound):
        await app.dlq_delete("nope")
    with pytest.raises(JobNotFound, match="succeeded, not in the dead-letter queue"):
        await app.dlq_delete(ok)
    with pytest.raises(JobNotFound, match="not in the dead-letter queue"):
        await app.dlq_retry(ok)
    with pytest.raises(ValidationError):
        await app.dlq_list(limit=0)
    with pytest.raises(ValidationError):
        await app.dlq_list(since=10, until=5)
    with pytest.raises(ValidationError):
        await app.dlq_requeue(since=datetime(2024, 1, 1))  # naive datetime
    with pytest.raises(ValidationError):
        await app.dlq_list(cursor="garbage")
    assert await snapshot(redis_client) == before


async def test_retention_by_count_and_age(
    settings_for: Callable[..., Settings], redis_client: Redis
) -> None:
    app = App(settings_for(dead_max_entries=100))
    failing_app(app)
    try:
        ids = [await app.enqueue("mail", {"to": str(n)}) for n in range(300)]
        await dead(app, ids)
        k = app.store.keys("default")
        assert await redis_client.xlen(k.dead) < 300  # capped (approximately) by count
        # by age: entries older than the failed-job retention go at the next sweep
        janitor = Janitor(app.store, ["default"])
        await janitor.sweep_once()
        assert await redis_client.xlen(k.dead) > 0
        old = await redis_ms(redis_client) - app.settings.failed_ttl_s * 1000 - 1000
        await redis_client.delete(k.dead)  # entries only go at the end: start it over
        await redis_client.xadd(k.dead, {"job": "x", "time": old}, id=f"{old}-0")
        await redis_client.xadd(k.dead, {"job": "y", "time": old + 2000})
        await janitor.sweep_once()
        assert [f[b"job"] for _, f in await redis_client.xrange(k.dead)] == [b"y"]
    finally:
        await app.close()


async def test_retry_of_a_failed_job_removes_its_dead_letter_entry(
    app: App, redis_client: Redis
) -> None:
    failing_app(app)
    job_id = await app.enqueue("mail", {"to": "x"})
    await dead(app, [job_id])
    k = app.store.keys("default")
    assert await redis_client.xlen(k.dead) == 1
    assert (await app.retry(job_id)).status == "queued"
    assert await redis_client.xlen(k.dead) == 0
