"""The heartbeat on its own: the node registered in each of its queues at Redis's time with
its in-flight count, the leases of held entries renewed (owner-checked), lost ones
reported and their handlers cancelled. Real Redis, real store."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Sequence

import anyio
import orjson
import pytest
from redis.asyncio import Redis

from streamq import JobRequest, Settings
from streamq.job import Delivery, Outcome
from streamq.keys import GROUP
from streamq.metrics import REGISTRY
from streamq.store import Store
from streamq.worker.completer import Completer
from streamq.worker.heartbeat import Heartbeat
from tests.support.clock import NOW_MS, ManualClock, redis_ms
from tests.support.inflight import enqueue, node_state, outcome, take


async def idle_ms(redis: Redis, stream: str) -> dict[bytes, tuple[str, int]]:
    """Each pending entry's consumer and idle time."""
    rows = await redis.xpending_range(stream, GROUP, "-", "+", 100)
    return {r["message_id"]: (r["consumer"].decode(), r["time_since_delivered"]) for r in rows}


async def test_the_node_is_registered_in_each_queue_with_its_in_flight_count(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    store = Store(redis_client, settings_for(), ManualClock())
    state = node_state("n1", concurrency=5)
    state.slots.take(2)
    heartbeat = Heartbeat(store, state, ["default", "mail"], interval_s=1.0,
                          tasks={"mail.send": "mail"})
    assert await heartbeat.beat_once() == 0
    for queue in ("default", "mail"):
        k = store.keys(queue)
        assert await redis_client.zrange(k.workers, 0, -1, withscores=True) == [
            (b"n1", float(NOW_MS))
        ]
        info = orjson.loads(await redis_client.hget(k.worker_info, "n1") or b"{}")
        assert info == {
            "host": socket.gethostname(), "pid": os.getpid(), "concurrency": 5, "in_flight": 2,
            "leases_lost": 0,
            "queues": ["default", "mail"], "tasks": {"mail.send": "mail"},
            "heartbeat_ms": NOW_MS,
        }


async def test_without_an_injected_clock_the_registration_time_is_redis_s(
    store: Store, redis_client: Redis
) -> None:
    heartbeat = Heartbeat(store, node_state("n1"), ["default"], interval_s=1.0)
    before = await redis_ms(redis_client)
    await heartbeat.beat_once()
    after = await redis_ms(redis_client)
    [(_, score)] = await redis_client.zrange(store.keys("default").workers, 0, -1,
                                             withscores=True)
    assert before <= score <= after


async def test_leases_of_held_entries_are_renewed(store: Store, redis_client: Redis) -> None:
    await enqueue(store, *(JobRequest("work") for _ in range(3)))
    state = node_state("n1")
    taken = await take(store, state)
    stream = store.keys("default").stream("normal")
    # Idle for a minute: past any visibility timeout.
    await redis_client.xclaim(stream, GROUP, "n1", 0, [d.entry_id for d in taken],
                              idle=60_000, justid=True)
    assert min(idle for _, idle in (await idle_ms(redis_client, stream)).values()) >= 60_000
    state.lease_valid_until = 0.0  # as after a freeze: the lease must be proven again
    assert not state.lease_ok()
    assert await Heartbeat(store, state, ["default"], interval_s=1.0).beat_once() == 0
    pending = await idle_ms(redis_client, stream)
    assert {d.entry_id for d in taken} == set(pending)
    assert all(consumer == "n1" and idle < 1000 for consumer, idle in pending.values())
    assert state.lease_ok()


async def test_an_entry_taken_by_another_node_is_reported_lost_and_its_handler_cancelled(
    store: Store, redis_client: Redis
) -> None:
    await enqueue(store, *(JobRequest("work", queue="lost") for _ in range(2)))
    state = node_state("n1")
    kept, lost = await take(store, state, "lost")
    stream = store.keys("lost").stream("normal")
    await redis_client.xclaim(stream, GROUP, "n2", 0, [lost.entry_id], justid=True)
    scopes = {d.job_id: anyio.CancelScope() for d in (kept, lost)}
    state.running.update(scopes)
    before = REGISTRY.get_sample_value("streamq_leases_lost_total", {"queue": "lost"}) or 0
    assert await Heartbeat(store, state, ["lost"], interval_s=1.0).beat_once() == 1
    assert scopes[lost.job_id].cancel_called and not scopes[kept.job_id].cancel_called
    assert REGISTRY.get_sample_value("streamq_leases_lost_total", {"queue": "lost"}) == before + 1
    pending = await idle_ms(redis_client, stream)
    assert pending[lost.entry_id][0] == "n2", "the other node's claim is left alone"


class CompletingStore(Store):
    """The real store, where the completer writes given outcomes while a renewal is on its
    way (the order a busy node can see: the renewal then finds those entries gone)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.landing: list[Outcome] = []
        self.completer: Completer | None = None

    async def renew(self, consumer: str, held: Sequence[Delivery]) -> list[Delivery]:
        if self.completer is not None and self.landing:
            await self.completer.persist(self.landing)
            self.landing = []
        return await super().renew(consumer, held)


async def test_an_entry_persisted_during_the_renewal_is_not_counted_lost(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    store = CompletingStore(redis_client, settings_for())
    await enqueue(store, *(JobRequest("work") for _ in range(2)))
    state = node_state("n1")
    done, running = await take(store, state)
    store.completer = Completer(store, state, batch_size=10, flush_ms=10)
    store.landing = [outcome(done)]
    lost_before = REGISTRY.get_sample_value("streamq_leases_lost_total", {"queue": "default"})
    assert await Heartbeat(store, state, ["default"], interval_s=1.0).beat_once() == 0
    assert REGISTRY.get_sample_value("streamq_leases_lost_total",
                                     {"queue": "default"}) == lost_before
    assert list(state.held.values()) == [running]


async def test_a_beat_after_the_lease_ran_out_says_so_once_and_lets_the_node_work(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    state = node_state("n1")
    heartbeat = Heartbeat(store, state, ["default"], interval_s=1.0)
    state.lease_valid_until = time.monotonic() - 5  # frozen 5 s past its lease, nothing held
    assert not state.lease_ok()
    with caplog.at_level(logging.WARNING, logger="streamq.worker"):
        await heartbeat.beat_once()
        assert state.lease_ok()
        await heartbeat.beat_once()  # a lease still valid: nothing to say
    said = [r.getMessage() for r in caplog.records if "lease had run out" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("this node's lease had run out 5."), said
