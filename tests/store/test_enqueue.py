"""enqueue.lua: created (queued or scheduled) | idempotent replay | key conflict | backlog full."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from streamq.errors import IdempotencyConflict, QueueFull
from streamq.settings import Settings
from streamq.store import EnqueueResult, EnqueueSpec, Store

from .conftest import Publishes, Raises, Table
from .redis_state import (
    ANY_ID,
    IDEM_TTL_MS,
    MAX_BACKLOG,
    NOW,
    PAYLOAD,
    TYPE,
    K,
    Q,
    State,
    Stream,
    Ttl,
    ZSet,
    entry,
    event,
    events,
    record,
    text,
)


async def enqueue(
    table: Table,
    job_id: str = "j1",
    priority: str = "normal",
    delay_ms: int = 0,
    run_at_ms: int = 0,
    idem: str | None = None,
    fingerprint: str = "fp1",
    max_backlog: int = MAX_BACKLOG,
    trace: str = "",
) -> EnqueueResult:
    spec = EnqueueSpec(Q, job_id, TYPE, PAYLOAD.encode(), priority, 3, 30.0, delay_ms,
                       run_at_ms, idem, fingerprint, trace)
    (result,) = await table.store_with(max_backlog=max_backlog).enqueue([spec])
    return result


def created(status: str, job_id: str = "j1") -> EnqueueResult:
    return EnqueueResult(job_id, True, status)


def replayed(job_id: str) -> EnqueueResult:
    return EnqueueResult(job_id, False, "existing")


def full(backlog: int) -> Raises:
    return Raises(QueueFull, match=f"holds {backlog} queued jobs")


def listed(job_id: str = "j1") -> State:
    """The listing indices of a job created at NOW (every job the store writes is listed)."""
    return {
        K.index_all: ZSet({job_id: NOW}),
        K.index_type(TYPE): ZSet({job_id: NOW}),
        K.types: {TYPE},
    }


def queued_job(job_id: str = "j1", priority: str = "normal", **fields: object) -> State:
    """The keys a job enqueued at NOW without delay leaves behind."""
    return {
        K.job(job_id): record("queued", **{"priority": priority, "created": NOW, "due": NOW,
                                           **fields}),
        K.stream(priority): Stream([(ANY_ID, entry(job_id, enq=NOW))]),
        K.index("queued"): ZSet({job_id: NOW}),
        K.events: events(event(job_id, "", "queued")),
        **listed(job_id),
    }


def scheduled_job(due: int, job_id: str = "j1") -> State:
    return {
        K.job(job_id): record("scheduled", created=NOW, due=due),
        K.scheduled: ZSet({job_id: due}),
        K.index("scheduled"): ZSet({job_id: NOW}),
        K.events: events(event(job_id, "", "scheduled")),
        **listed(job_id),
    }


IDEM = K.idempotency("signup-42")
LATER = ZSet({"j0": NOW + 60_000})
SOONER = ZSet({"j0": NOW + 1_000})
FULL = ZSet({"a": NOW - 2, "b": NOW - 1})

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

CASES = [
    pytest.param({}, {}, created("queued"), queued_job(), [], id="created-queued"),
    pytest.param(
        {}, {"trace": TRACEPARENT}, created("queued"), queued_job(trace=TRACEPARENT), [],
        id="trace-context-kept-with-the-record",
    ),
    pytest.param(
        {}, {"priority": "high"}, created("queued"), queued_job(priority="high"), [],
        id="created-in-its-priority-stream",
    ),
    pytest.param(
        {}, {"delay_ms": 5_000}, created("scheduled"), scheduled_job(NOW + 5_000),
        [(K.wake_channel, str(NOW + 5_000))], id="delay-scheduled-wakes-scheduler",
    ),
    pytest.param(
        {}, {"run_at_ms": NOW + 60_000}, created("scheduled"), scheduled_job(NOW + 60_000),
        [(K.wake_channel, str(NOW + 60_000))], id="run-at-scheduled",
    ),
    pytest.param(
        {}, {"run_at_ms": NOW - 5_000, "delay_ms": 9_000}, created("queued"),
        queued_job(due=NOW - 5_000), [], id="run-at-in-the-past-wins-over-delay-queued",
    ),
    pytest.param(
        {K.scheduled: SOONER}, {"delay_ms": 5_000}, created("scheduled"),
        {**scheduled_job(NOW + 5_000), K.scheduled: ZSet({**SOONER, "j1": NOW + 5_000})},
        [], id="scheduled-behind-an-earlier-job-no-wake",
    ),
    pytest.param(
        {K.scheduled: LATER}, {"delay_ms": 5_000}, created("scheduled"),
        {**scheduled_job(NOW + 5_000), K.scheduled: ZSet({**LATER, "j1": NOW + 5_000})},
        [(K.wake_channel, str(NOW + 5_000))], id="scheduled-ahead-of-a-later-job-wakes",
    ),
    pytest.param(
        {}, {"idem": "signup-42"}, created("queued"),
        {**queued_job(idem=IDEM), IDEM: Ttl("j1|fp1", IDEM_TTL_MS // 1000)}, [],
        id="created-with-idempotency-key",
    ),
    pytest.param(
        {IDEM: Ttl("j0|fp1", 600)}, {"idem": "signup-42"}, replayed("j0"),
        {IDEM: Ttl("j0|fp1", 600)}, [], id="idempotent-replay-writes-nothing",
    ),
    pytest.param(
        {IDEM: Ttl("j0|fp-other", 600)}, {"idem": "signup-42"},
        Raises(IdempotencyConflict, {"job_id": "j0"}),
        {IDEM: Ttl("j0|fp-other", 600)}, [], id="key-conflict-writes-nothing",
    ),
    pytest.param(
        {}, {"idem": "signup-42", "delay_ms": 1}, created("scheduled"),
        {**scheduled_job(NOW + 1), K.job("j1"): record(
            "scheduled", created=NOW, due=NOW + 1, idem=IDEM),
         IDEM: Ttl("j1|fp1", IDEM_TTL_MS // 1000)},
        [(K.wake_channel, str(NOW + 1))], id="scheduled-with-an-idempotency-key",
    ),
    pytest.param(
        {K.job("j1"): record("processing")}, {}, replayed("j1"),
        {K.job("j1"): record("processing")}, [], id="same-job-id-sent-twice-replay",
    ),
    pytest.param(
        {K.index("queued"): FULL}, {"max_backlog": 2}, full(2), {K.index("queued"): FULL}, [],
        id="backlog-full",
    ),
    pytest.param(
        {K.index("queued"): FULL}, {"max_backlog": 2, "delay_ms": 1_000}, full(2),
        {K.index("queued"): FULL}, [], id="backlog-full-refuses-delayed-jobs-too",
    ),
    pytest.param(
        {K.index("queued"): FULL, IDEM: Ttl("j0|fp1", 600)},
        {"max_backlog": 2, "idem": "signup-42"}, replayed("j0"),
        {K.index("queued"): FULL, IDEM: Ttl("j0|fp1", 600)}, [],
        id="replay-answers-even-when-backlog-full",
    ),
    pytest.param(
        {K.index("scheduled"): FULL, K.index("queued"): ZSet({"a": NOW - 2})},
        {"max_backlog": 2}, created("queued"),
        {
            **queued_job(),
            K.index("scheduled"): FULL,
            K.index("queued"): ZSet({"a": NOW - 2, "j1": NOW}),
        },
        [], id="backlog-counts-queued-jobs-only",
    ),
]


@pytest.mark.parametrize(("before", "call", "reply", "after", "published"), CASES)
async def test_enqueue(
    table: Table, publishes: Publishes, before: State, call: dict[str, Any],
    reply: EnqueueResult | Raises, after: State, published: list[tuple[str, str]],
) -> None:
    await table.check(before, lambda: enqueue(table, **call), reply, after)
    assert await publishes.taken() == published


async def test_enqueue_uses_redis_time_without_a_clock(redis_client: Redis, store: Store) -> None:
    seconds, micros = await redis_client.time()
    before_ms = seconds * 1000 + micros // 1000
    spec = EnqueueSpec(Q, "j1", "t", b"{}", "normal", 0, 1.0)
    assert await store.enqueue([spec]) == [created("queued")]
    created_ms = int(await redis_client.hget(K.job("j1"), "created") or 0)
    assert before_ms <= created_ms <= before_ms + 5_000


def spec(job_id: str, key: str | None = "k", fingerprint: str = "fp") -> EnqueueSpec:
    return EnqueueSpec("q", job_id, "email.send", PAYLOAD.encode(), "normal", 3, 30.0,
                       idempotency_key=key, fingerprint=fingerprint)


async def test_store_maps_codes_to_results_and_errors(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    store = Store(redis_client, settings_for(max_backlog=2))
    first = await store.enqueue([spec("j1")])
    assert [(r.job_id, r.created, r.status) for r in first] == [("j1", True, "queued")]
    again = await store.enqueue([spec("j2")])
    assert [(r.job_id, r.created, r.status) for r in again] == [("j1", False, "existing")]
    with pytest.raises(IdempotencyConflict) as conflict:
        await store.enqueue([spec("j3", fingerprint="other")])
    assert conflict.value.detail == {"job_id": "j1"}
    await store.enqueue([spec("j4", key=None)])
    with pytest.raises(QueueFull):
        await store.enqueue([spec("j5", key=None)])
    assert text(await redis_client.zrange(K.index("queued"), 0, -1)) == ["j1", "j4"]
    assert not await redis_client.exists(K.job("j2"), K.job("j3"), K.job("j5"))
