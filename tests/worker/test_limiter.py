"""The limiter on its own: it renews the slot leases of the limited jobs its node holds (and
no others), and gives parked jobs back when a slot frees by a lease expiring. Real Redis,
real store under a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from redis.asyncio import Redis

from streamq import JobRequest, Settings
from streamq.store import Store
from streamq.worker.limiter import Limiter
from tests.support.clock import NOW_MS, ManualClock, redis_ms
from tests.support.inflight import enqueue, node_state, take

LEASE_MS = 2_000
"""The visibility timeout of the test settings: a slot's lease."""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def timed(redis_client: Redis, settings_for: Callable[..., Settings],
          clock: ManualClock) -> Store:
    store = Store(redis_client, settings_for(), clock)
    assert store.settings.visibility_timeout_ms == LEASE_MS
    return store


async def leases(redis: Redis, key: str) -> dict[str, float]:
    return {m.decode(): s for m, s in await redis.zrange(key, 0, -1, withscores=True)}


async def test_it_renews_the_leases_of_its_own_limited_jobs_only(
    timed: Store, clock: ManualClock, redis_client: Redis
) -> None:
    running = timed.keys("default").running("limited")
    ours = await enqueue(timed, *(JobRequest("limited") for _ in range(2)))
    await enqueue(timed, JobRequest("free"))
    state = node_state(limits={"limited": 3})
    assert len(await take(timed, state)) == 3
    await redis_client.zadd(running, {"elsewhere": NOW_MS + 1500})  # another node's job
    assert await leases(redis_client, running) == {
        **dict.fromkeys(ours, NOW_MS + LEASE_MS), "elsewhere": NOW_MS + 1500}
    clock.advance(1000)
    limiter = Limiter(timed, state, ["default"], interval_s=1.0)
    assert await limiter.step() == 0
    assert await leases(redis_client, running) == {
        **dict.fromkeys(ours, NOW_MS + 1000 + LEASE_MS), "elsewhere": NOW_MS + 1500}


async def test_a_slot_released_meanwhile_is_not_taken_again_by_the_renewal(
    timed: Store, clock: ManualClock, redis_client: Redis
) -> None:
    running = timed.keys("default").running("limited")
    await enqueue(timed, JobRequest("limited"))
    state = node_state(limits={"limited": 1})
    [d] = await take(timed, state)
    await timed.release("default", "limited", 1, [d.job_id])  # its outcome was written
    clock.advance(1000)
    await Limiter(timed, state, ["default"], interval_s=1.0).step()
    assert await redis_client.zcard(running) == 0


async def test_a_parked_job_comes_back_once_a_dead_node_s_lease_expires(
    timed: Store, clock: ManualClock, redis_client: Redis
) -> None:
    k = timed.keys("default")
    await redis_client.zadd(k.running("solo"), {"ghost": NOW_MS + 500})  # its node died
    [job_id] = await enqueue(timed, JobRequest("solo"))
    state = node_state(limits={"solo": 1})
    assert await take(timed, state) == [], "parked: the ghost holds the only slot"
    assert await leases(redis_client, k.waiting("solo")) != {}
    limiter = Limiter(timed, state, ["default"], interval_s=1.0)
    clock.advance(499)
    assert await limiter.step() == 0, "the lease is still valid"
    assert await redis_client.xlen(k.stream("normal")) == 0
    clock.advance(1)
    assert await limiter.step() == 1
    assert await leases(redis_client, k.running("solo")) == {job_id: NOW_MS + 500 + LEASE_MS}
    assert await redis_client.zcard(k.waiting("solo")) == 0
    [d] = await take(timed, state)
    assert (d.job_id, d.attempt) == (job_id, 1), "neither failed nor retried while parked"


async def test_parked_jobs_come_back_as_slots_free_up_to_the_limit(
    timed: Store, clock: ManualClock, redis_client: Redis
) -> None:
    k = timed.keys("default")
    await redis_client.zadd(k.running("duo"), {"ghost1": NOW_MS + 100, "ghost2": NOW_MS + 100})
    await enqueue(timed, *(JobRequest("duo") for _ in range(3)))
    state = node_state(limits={"duo": 2})
    assert await take(timed, state) == []
    clock.advance(100)
    limiter = Limiter(timed, state, ["default"], interval_s=1.0)
    assert await limiter.step() == 2
    assert await redis_client.zcard(k.waiting("duo")) == 1
    assert await limiter.step() == 0, "both slots are held by the given-back jobs"


async def test_run_does_nothing_without_limits(store: Store) -> None:
    with anyio.fail_after(1):
        await Limiter(store, node_state(), ["default"], interval_s=0.01).run()  # returns


async def test_run_gives_a_parked_job_back_soon_after_the_lease_expires(
    store: Store, redis_client: Redis
) -> None:
    k = store.keys("default")
    await redis_client.zadd(k.running("solo"), {"ghost": await redis_ms(redis_client) + 60_000})
    [job_id] = await enqueue(store, JobRequest("solo"))
    state = node_state(limits={"solo": 1})
    assert await take(store, state) == []
    expires = await redis_ms(redis_client) + 200
    await redis_client.zadd(k.running("solo"), {"ghost": expires})
    async with anyio.create_task_group() as tg:
        tg.start_soon(Limiter(store, state, ["default"], interval_s=0.05).run)
        with anyio.fail_after(3):
            while await redis_client.zcard(k.waiting("solo")):
                await anyio.sleep(0.01)
        given_back = await redis_ms(redis_client)
        tg.cancel_scope.cancel()
    assert expires <= given_back < expires + 1000, "within a few intervals of the expiry"
    assert [d.job_id for d in await take(store, state)] == [job_id]
