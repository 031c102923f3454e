"""The scheduler on its own: due jobs promoted by the store's clock (Redis's), the sleep
until the next due time, a poke that wakes it for a job scheduled meanwhile, and never a
promotion before a job is due. Real Redis, real store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import anyio
from redis.asyncio import Redis

from streamq import JobRequest, Settings
from streamq.store import PromoteResult, Store
from streamq.worker.scheduler import BATCH, MAX_SLEEP_S, Scheduler
from tests.support.clock import NOW_MS, ManualClock
from tests.support.inflight import enqueue

LATE_MS = 1000
"""How late a promotion may be on a busy machine; the faults these tests catch (a lost
wake-up, a sleep to the periodic wake-up) make it MAX_SLEEP_S late."""


async def status(store: Store, job_id: str) -> str:
    [job] = await store.jobs("default", [job_id])
    assert job is not None
    return job.status.value


async def due_and_promoted_ms(store: Store, redis: Redis, job_id: str) -> tuple[int, int]:
    """When the job was due (its record) and when it was promoted (the `queued` event,
    stamped with Redis's time by the promote script)."""
    [job] = await store.jobs("default", [job_id])
    assert job is not None and job.scheduled_at is not None
    events = await redis.xrange(store.keys("default").events)
    [promoted] = [int(f[b"time"]) for _, f in events
                  if f[b"job"] == job_id.encode() and f[b"to"] == b"queued"]
    return int(job.scheduled_at.timestamp() * 1000), promoted


async def wait_queued(store: Store, job_id: str, timeout_s: float) -> None:
    with anyio.fail_after(timeout_s):
        while await status(store, job_id) != "queued":
            await anyio.sleep(0.01)


async def test_promote_once_moves_what_is_due_and_says_how_long_to_sleep(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    clock = ManualClock()
    store = Store(redis_client, settings_for(), clock)
    a, b, c = await enqueue(store, JobRequest("work", delay=1), JobRequest("work", delay=3),
                            JobRequest("work", delay=10))
    scheduler = Scheduler(store, "default")
    assert await scheduler.promote_once() == 1.0
    clock.advance(999)
    assert await scheduler.promote_once() == 0.001
    assert [await status(store, j) for j in (a, b, c)] == ["scheduled"] * 3, "never early"
    clock.advance(1)
    assert await scheduler.promote_once() == 2.0
    assert [await status(store, j) for j in (a, b, c)] == ["queued", "scheduled", "scheduled"]
    clock.now_ms = NOW_MS + 3000
    assert await scheduler.promote_once() == MAX_SLEEP_S, "at most MAX_SLEEP_S, however far"
    assert await status(store, b) == "queued"
    clock.now_ms = NOW_MS + 10_000
    assert await scheduler.promote_once() == MAX_SLEEP_S, "nothing left"
    assert await status(store, c) == "queued"
    assert await store.scheduled_ids("default") == []


async def test_a_full_batch_asks_for_the_next_one_at_once(store: Store) -> None:
    await enqueue(store, *(JobRequest("work", delay=0.001) for _ in range(BATCH + 1)))
    await anyio.sleep(0.01)
    scheduler = Scheduler(store, "default")
    assert await scheduler.promote_once() == 0.0
    assert len(await store.scheduled_ids("default")) == 1
    assert await scheduler.promote_once() == MAX_SLEEP_S
    assert await store.scheduled_ids("default") == []


async def test_it_sleeps_until_the_next_due_time_and_promotes_then(
    store: Store, redis_client: Redis
) -> None:
    [job_id] = await enqueue(store, JobRequest("work", delay=0.4))
    async with anyio.create_task_group() as tg:
        tg.start_soon(Scheduler(store, "default").run)
        await wait_queued(store, job_id, timeout_s=3)
        tg.cancel_scope.cancel()
    due, promoted = await due_and_promoted_ms(store, redis_client, job_id)
    assert 0 <= promoted - due < LATE_MS, "promoted when due, not at a periodic wake-up"


async def test_a_poke_wakes_it_for_a_job_scheduled_while_it_slept(
    store: Store, redis_client: Redis
) -> None:
    scheduler = Scheduler(store, "default")
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run)
        await anyio.sleep(0.1)  # asleep for MAX_SLEEP_S: nothing is scheduled
        [job_id] = await enqueue(store, JobRequest("work", delay=0.2))
        scheduler.poke()
        await wait_queued(store, job_id, timeout_s=MAX_SLEEP_S - 1)
        tg.cancel_scope.cancel()
    due, promoted = await due_and_promoted_ms(store, redis_client, job_id)
    assert 0 <= promoted - due < LATE_MS


async def test_pokes_before_the_due_time_never_promote_early(
    store: Store, redis_client: Redis
) -> None:
    [job_id] = await enqueue(store, JobRequest("work", delay=timedelta(milliseconds=300)))
    scheduler = Scheduler(store, "default")
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run)
        with anyio.fail_after(3):
            while await status(store, job_id) == "scheduled":
                scheduler.poke()  # as every enqueue of an earlier job would
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
    due, promoted = await due_and_promoted_ms(store, redis_client, job_id)
    assert 0 <= promoted - due < LATE_MS


class PokedDuringPromotion(Store):
    """The real store, where something happens while a promotion is on its way (as a
    wake-up message can reach the listener during that round trip)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.meanwhile: Callable[[], Awaitable[None]] | None = None

    async def promote(self, queue: str, batch: int = 500) -> PromoteResult:
        result = await super().promote(queue, batch)
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            await meanwhile()
        return result


async def test_a_poke_during_a_promotion_is_not_lost(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    store = PokedDuringPromotion(redis_client, settings_for())
    scheduler = Scheduler(store, "default")
    scheduled: list[str] = []

    async def schedule_and_poke() -> None:
        scheduled.extend(await enqueue(store, JobRequest("work", delay=0.1)))
        scheduler.poke()

    store.meanwhile = schedule_and_poke
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run)  # finds nothing due: would sleep MAX_SLEEP_S
        with anyio.fail_after(1):
            while not scheduled:
                await anyio.sleep(0.01)
        await wait_queued(store, scheduled[0], timeout_s=MAX_SLEEP_S - 2)
        tg.cancel_scope.cancel()
    due, promoted = await due_and_promoted_ms(store, redis_client, scheduled[0])
    assert 0 <= promoted - due < LATE_MS
