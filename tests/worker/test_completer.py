"""The completer on its own: outcomes written in batches (by size, by flush time, at the
end of the stream), fenced per attempt, retried through outages whole, and the slots of
limited types freed. Real Redis, real store, jobs put in flight by a real fetcher."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import anyio
import pytest
from redis.asyncio import Redis

from streamq import JobRequest, Settings
from streamq.devredis import RedisServer
from streamq.job import Event, Outcome, OutcomeKind
from streamq.metrics import REGISTRY
from streamq.store import Store
from streamq.store.codes import FinishCode
from streamq.worker.completer import Completer
from tests.support.inflight import enqueue, node_state, outcome, take

FOREVER_MS = 60_000.0
"""A flush time no test waits for: a write before it was caused by something else."""


class NotingStore(Store):
    """The real store, noting the size of every write of outcomes it is asked for."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.writes: list[int] = []

    async def finish(self, outcomes: Sequence[Outcome]) -> list[FinishCode]:
        self.writes.append(len(outcomes))
        return await super().finish(outcomes)


@pytest.fixture
def noting(redis_client: Redis, settings_for: Callable[..., Settings]) -> NotingStore:
    return NotingStore(redis_client, settings_for())


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def statuses(store: Store, ids: list[str], queue: str = "default") -> list[str]:
    return [job.status.value if job else "missing" for job in await store.jobs(queue, ids)]


async def wait_statuses(store: Store, ids: list[str], status: str, timeout_s: float) -> float:
    """Wait until every job has `status`; returns when (monotonic)."""
    with anyio.fail_after(timeout_s):
        while set(await statuses(store, ids)) != {status}:
            await anyio.sleep(0.01)
    return time.monotonic()


async def test_a_full_batch_is_written_at_once_in_one_round_trip(noting: NotingStore) -> None:
    ids = await enqueue(noting, *(JobRequest("work") for _ in range(6)))
    state = node_state()
    taken = await take(noting, state)
    completer = Completer(noting, state, batch_size=3, flush_ms=FOREVER_MS)
    send, receive = anyio.create_memory_object_stream[Outcome](10)
    async with send, receive, anyio.create_task_group() as tg:
        tg.start_soon(completer.run, receive)
        for d in taken:
            send.send_nowait(outcome(d))
        await wait_statuses(noting, ids, "succeeded", timeout_s=5)  # not the flush time
        tg.cancel_scope.cancel()
    assert noting.writes == [3, 3]
    assert state.held == {}, "persisted entries are no longer held"


async def test_a_partial_batch_waits_for_the_flush_time_and_no_longer(
    noting: NotingStore,
) -> None:
    ids = await enqueue(noting, *(JobRequest("work") for _ in range(3)))
    state = node_state()
    first, second, third = await take(noting, state)
    completer = Completer(noting, state, batch_size=100, flush_ms=500)
    send, receive = anyio.create_memory_object_stream[Outcome](10)
    async with send, receive, anyio.create_task_group() as tg:
        tg.start_soon(completer.run, receive)
        sent = time.monotonic()
        send.send_nowait(outcome(first))
        await anyio.sleep(0.05)
        send.send_nowait(outcome(second))
        await anyio.sleep(0.1)
        assert await statuses(noting, ids[:2]) == ["processing"] * 2, "written before its time"
        written = await wait_statuses(noting, ids[:2], "succeeded", timeout_s=5)
        assert written - sent >= 0.5 - 0.01
        assert noting.writes == [2], "outcomes within one flush time share one write"
        sent = time.monotonic()
        send.send_nowait(outcome(third))
        written = await wait_statuses(noting, ids[2:], "succeeded", timeout_s=5)
        assert written - sent >= 0.5 - 0.01, "a new batch waits its own flush time"
        tg.cancel_scope.cancel()
    assert noting.writes == [2, 1]


async def test_with_nothing_running_and_a_fetcher_waiting_the_batch_is_written_at_once(
    noting: NotingStore,
) -> None:
    ids = await enqueue(noting, *(JobRequest("work") for _ in range(2)))
    state = node_state()
    first, second = await take(noting, state)  # two slots taken: both attempts running
    state.fetchers = state.blocked_reads = 1  # as while the node's fetcher waits in a read
    completer = Completer(noting, state, batch_size=100, flush_ms=FOREVER_MS)
    send, receive = anyio.create_memory_object_stream[Outcome](10)
    async with send, receive, anyio.create_task_group() as tg:
        tg.start_soon(completer.run, receive)
        state.slots.release()  # as an executor does before it sends the outcome
        send.send_nowait(outcome(first))
        await anyio.sleep(0.2)
        assert await statuses(noting, ids) == ["processing"] * 2, "another attempt runs"
        state.slots.release()
        send.send_nowait(outcome(second))
        await wait_statuses(noting, ids, "succeeded", timeout_s=5)  # not the flush time
        tg.cancel_scope.cancel()
    assert noting.writes == [2]


async def test_with_nothing_running_but_a_fetch_under_way_the_flush_time_is_kept(
    noting: NotingStore,
) -> None:
    [job_id] = await enqueue(noting, JobRequest("work"))
    state = node_state()
    [d] = await take(noting, state)
    state.fetchers, state.blocked_reads = 2, 1  # one shard idle, the other reading a backlog
    completer = Completer(noting, state, batch_size=100, flush_ms=300)
    send, receive = anyio.create_memory_object_stream[Outcome](10)
    async with send, receive, anyio.create_task_group() as tg:
        tg.start_soon(completer.run, receive)
        state.slots.release()  # nothing runs, but a fetcher is not waiting: it reads a backlog
        sent = time.monotonic()
        send.send_nowait(outcome(d))
        written = await wait_statuses(noting, [job_id], "succeeded", timeout_s=5)
        tg.cancel_scope.cancel()
    assert written - sent >= 0.3 - 0.01, "the next batch's outcomes may still join"
    assert noting.writes == [1]


async def test_the_end_of_the_stream_writes_what_is_left_at_once(noting: NotingStore) -> None:
    ids = await enqueue(noting, *(JobRequest("work") for _ in range(2)))
    state = node_state()
    taken = await take(noting, state)
    completer = Completer(noting, state, batch_size=100, flush_ms=FOREVER_MS)
    send, receive = anyio.create_memory_object_stream[Outcome](10)
    async with receive:
        async with send:
            for d in taken:
                send.send_nowait(outcome(d))
        with anyio.fail_after(5):
            await completer.run(receive)
    assert noting.writes == [2]
    assert await statuses(noting, ids) == ["succeeded"] * 2


async def test_every_kind_of_outcome_is_persisted_and_counted(store: Store) -> None:
    ids = await enqueue(store, *(JobRequest("work", queue="kinds") for _ in range(3)))
    state = node_state()
    taken = await take(store, state, "kinds")
    ok, retry, failed = sorted(taken, key=lambda d: ids.index(d.job_id))
    before = {kind: metric("streamq_jobs_processed_total", queue="kinds", task="work",
                           outcome=kind) for kind in ("succeeded", "retry", "failed")}
    dead_before = metric("streamq_jobs_dead_total", queue="kinds", task="work")
    completer = Completer(store, state, batch_size=10, flush_ms=10)
    await completer.persist([
        outcome(ok, result=b'{"sum": 3}'),
        outcome(retry, OutcomeKind.RETRY, error="flaky", error_type="OSError",
                retry_delay_ms=60_000),
        outcome(failed, OutcomeKind.FAILED, error="bad", error_type="ValueError",
                reason="retries exhausted", traceback="Traceback ..."),
    ])
    jobs = await store.jobs("kinds", ids)
    assert [j.status.value if j else None for j in jobs] == ["succeeded", "retrying", "failed"]
    assert jobs[0] is not None and jobs[0].result == {"sum": 3}
    assert await store.scheduled_ids("kinds") == [retry.job_id]
    [dead] = await store.dead_range("kinds", "-", "+", 10)
    assert (dead.job_id, dead.reason, dead.error_type) == (
        failed.job_id, "retries exhausted", "ValueError")
    assert state.held == {} and completer.stale == 0
    for kind in ("succeeded", "retry", "failed"):
        after = metric("streamq_jobs_processed_total", queue="kinds", task="work", outcome=kind)
        assert after - before[kind] == 1, kind
    assert metric("streamq_jobs_dead_total", queue="kinds", task="work") - dead_before == 1


async def test_an_outcome_of_a_superseded_attempt_is_fenced_off_and_counted(
    store: Store,
) -> None:
    [job_id] = await enqueue(store, JobRequest("work", queue="fenced"))
    frozen, rescuer = node_state("frozen"), node_state("rescuer")
    [old] = await take(store, frozen, "fenced")
    requeued, _ = await store.reclaim("fenced", old.priority, "rescuer", min_idle_ms=0)
    assert requeued.requeued == 1
    [new] = await take(store, rescuer, "fenced")
    assert new.run == old.run + 1
    stale_before = metric("streamq_stale_outcomes_total", queue="fenced")
    late = Completer(store, frozen, batch_size=10, flush_ms=10)
    await late.persist([outcome(old, result=b'"from the frozen node"')])
    assert late.stale == 1
    assert metric("streamq_stale_outcomes_total", queue="fenced") - stale_before == 1
    assert frozen.held == {}, "a fenced-off entry is not renewed any more"
    [job] = await store.jobs("fenced", [job_id])
    assert job is not None and (job.status.value, job.run, job.worker) == (
        "processing", new.run, "rescuer")
    current = Completer(store, rescuer, batch_size=10, flush_ms=10)
    await current.persist([outcome(new)])
    assert current.stale == 0
    [job] = await store.jobs("fenced", [job_id])
    assert job is not None and (job.status.value, job.result) == ("succeeded", "ok")


async def test_a_batch_is_retried_whole_through_an_outage_and_applied_once(
    own_redis: RedisServer, settings_for: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with Redis.from_url(own_redis.url) as redis:
        store = NotingStore(redis, settings_for(own_redis.url))
        ids = await enqueue(store, *(JobRequest("work") for _ in range(3)))
        state = node_state()
        taken = await take(store, state)
        completer = Completer(store, state, batch_size=10, flush_ms=10)
        own_redis.kill()  # AOF `always`: the jobs are on disk
        caplog.set_level(logging.WARNING, "streamq.worker")
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(completer.persist, [outcome(d) for d in taken])
                while len(store.writes) < 3:  # refused at least three times
                    await anyio.sleep(0.01)
                await anyio.to_thread.run_sync(own_redis.start)
        assert set(store.writes) == {3}, "the batch is retried whole"
        assert await statuses(store, ids) == ["succeeded"] * 3
        events = await redis.xrange(store.keys("default").events)
        finished = [e.job_id for i, f in events for e in Event.from_entry("default", i, f)
                    if e.to_status == "succeeded"]
        assert sorted(finished) == sorted(ids), "each outcome applied exactly once"
        assert state.held == {}
    warnings = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(warnings) == 1, "an outage is logged once, not at every retry"


async def test_a_finished_limited_job_frees_its_slot_for_a_parked_one(
    store: Store, redis_client: Redis
) -> None:
    k = store.keys("default")
    ids = await enqueue(store, *(JobRequest("limited") for _ in range(2)))
    state = node_state(limits={"limited": 1})
    [running] = await take(store, state)
    [parked] = [j for j in ids if j != running.job_id]
    assert await redis_client.zrange(k.waiting("limited"), 0, -1) == [parked.encode()]
    await Completer(store, state, batch_size=10, flush_ms=10).persist([outcome(running)])
    # The parked job is back in its stream, holding the slot until it is fetched.
    assert await redis_client.zrange(k.running("limited"), 0, -1) == [parked.encode()]
    assert await redis_client.zcard(k.waiting("limited")) == 0
    [again] = await take(store, state)
    assert again.job_id == parked


async def test_a_fenced_off_outcome_leaves_the_slot_to_the_newer_attempt(
    store: Store, redis_client: Redis
) -> None:
    k = store.keys("default")
    [job_id] = await enqueue(store, JobRequest("limited"))
    frozen = node_state("frozen", limits={"limited": 1})
    rescuer = node_state("rescuer", limits={"limited": 1})
    [old] = await take(store, frozen)
    await store.reclaim("default", old.priority, "rescuer", min_idle_ms=0)
    [new] = await take(store, rescuer)
    late = Completer(store, frozen, batch_size=10, flush_ms=10)
    await late.persist([outcome(old)])
    assert late.stale == 1
    assert await redis_client.zscore(k.running("limited"), job_id) is not None
    await Completer(store, rescuer, batch_size=10, flush_ms=10).persist([outcome(new)])
    assert await redis_client.zcard(k.running("limited")) == 0

