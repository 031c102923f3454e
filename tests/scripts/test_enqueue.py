"""enqueue.lua: created (queued or scheduled) | idempotent replay | key conflict | backlog full."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from streamq.errors import IdempotencyConflict, QueueFull
from streamq.scripts import Scripts
from streamq.settings import Settings
from streamq.store import EnqueueSpec, Store

from .conftest import Publishes, Table
from .redis_state import (
    ANY_ID,
    EVENTS_MAX,
    NOW,
    PAYLOAD,
    K,
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

IDEM_TTL_MS = 86_400_000


async def enqueue(
    scripts: Scripts,
    job_id: str = "j1",
    priority: str = "normal",
    delay_ms: int = 0,
    run_at_ms: int = 0,
    idem: str | None = None,
    fingerprint: str = "fp1",
    max_backlog: int = 100,
    listing: bool = False,
) -> Any:
    keys = [
        K.job(job_id),
        K.stream(priority),
        K.scheduled,
        K.index("queued"),
        K.index("scheduled"),
        K.events,
    ]
    if idem is not None:
        keys.append(K.idempotency(idem))
    if listing:
        keys += [K.index_all, K.index_type("email.send"), K.types]
    args: list[Any] = [
        NOW, job_id, "email.send", PAYLOAD, priority, 3, "30.0", delay_ms, run_at_ms,
        IDEM_TTL_MS, fingerprint, EVENTS_MAX, max_backlog, K.wake_channel,
    ]
    return text(await scripts.enqueue(keys=keys, args=args))


def queued_job(job_id: str = "j1", priority: str = "normal", **fields: object) -> State:
    """The keys a job enqueued at NOW without delay leaves behind."""
    return {
        K.job(job_id): record("queued", **{"priority": priority, "created": NOW, "due": NOW,
                                           **fields}),
        K.stream(priority): Stream([(ANY_ID, entry(job_id, enq=NOW))]),
        K.index("queued"): ZSet({job_id: NOW}),
        K.events: events(event(job_id, "", "queued")),
    }


def scheduled_job(due: int, job_id: str = "j1") -> State:
    return {
        K.job(job_id): record("scheduled", created=NOW, due=due),
        K.scheduled: ZSet({job_id: due}),
        K.index("scheduled"): ZSet({job_id: NOW}),
        K.events: events(event(job_id, "", "scheduled")),
    }


IDEM = K.idempotency("signup-42")
LATER = ZSet({"j0": NOW + 60_000})
SOONER = ZSet({"j0": NOW + 1_000})
FULL = ZSet({"a": NOW - 2, "b": NOW - 1})
LISTED: State = {
    K.index_all: ZSet({"j1": NOW}),
    K.index_type("email.send"): ZSet({"j1": NOW}),
    K.types: {"email.send"},
}

CASES = [
    pytest.param({}, {}, [1, "j1", "queued"], queued_job(), [], id="created-queued"),
    pytest.param(
        {}, {"priority": "high"}, [1, "j1", "queued"], queued_job(priority="high"), [],
        id="created-in-its-priority-stream",
    ),
    pytest.param(
        {}, {"delay_ms": 5_000}, [1, "j1", "scheduled"], scheduled_job(NOW + 5_000),
        [(K.wake_channel, str(NOW + 5_000))], id="delay-scheduled-wakes-scheduler",
    ),
    pytest.param(
        {}, {"run_at_ms": NOW + 60_000}, [1, "j1", "scheduled"], scheduled_job(NOW + 60_000),
        [(K.wake_channel, str(NOW + 60_000))], id="run-at-scheduled",
    ),
    pytest.param(
        {}, {"run_at_ms": NOW - 5_000, "delay_ms": 9_000}, [1, "j1", "queued"],
        queued_job(due=NOW - 5_000), [], id="run-at-in-the-past-wins-over-delay-queued",
    ),
    pytest.param(
        {K.scheduled: SOONER}, {"delay_ms": 5_000}, [1, "j1", "scheduled"],
        {**scheduled_job(NOW + 5_000), K.scheduled: ZSet({**SOONER, "j1": NOW + 5_000})},
        [], id="scheduled-behind-an-earlier-job-no-wake",
    ),
    pytest.param(
        {K.scheduled: LATER}, {"delay_ms": 5_000}, [1, "j1", "scheduled"],
        {**scheduled_job(NOW + 5_000), K.scheduled: ZSet({**LATER, "j1": NOW + 5_000})},
        [(K.wake_channel, str(NOW + 5_000))], id="scheduled-ahead-of-a-later-job-wakes",
    ),
    pytest.param(
        {}, {"idem": "signup-42"}, [1, "j1", "queued"],
        {**queued_job(idem=IDEM), IDEM: Ttl("j1|fp1", IDEM_TTL_MS // 1000)}, [],
        id="created-with-idempotency-key",
    ),
    pytest.param(
        {IDEM: Ttl("j0|fp1", 600)}, {"idem": "signup-42"}, [0, "j0"],
        {IDEM: Ttl("j0|fp1", 600)}, [], id="idempotent-replay-writes-nothing",
    ),
    pytest.param(
        {IDEM: Ttl("j0|fp-other", 600)}, {"idem": "signup-42"}, [-1, "j0"],
        {IDEM: Ttl("j0|fp-other", 600)}, [], id="key-conflict-writes-nothing",
    ),
    pytest.param(
        {}, {"listing": True}, [1, "j1", "queued"], {**queued_job(), **LISTED}, [],
        id="created-into-the-listing-indices",
    ),
    pytest.param(
        {}, {"listing": True, "idem": "signup-42", "delay_ms": 1}, [1, "j1", "scheduled"],
        {**scheduled_job(NOW + 1), **LISTED, K.job("j1"): record(
            "scheduled", created=NOW, due=NOW + 1, idem=IDEM),
         IDEM: Ttl("j1|fp1", IDEM_TTL_MS // 1000)},
        [(K.wake_channel, str(NOW + 1))], id="listing-indices-with-an-idempotency-key",
    ),
    pytest.param(
        {K.job("j1"): record("processing")}, {}, [0, "j1"],
        {K.job("j1"): record("processing")}, [], id="same-job-id-sent-twice-replay",
    ),
    pytest.param(
        {K.index("queued"): FULL}, {"max_backlog": 2}, [-2, 2], {K.index("queued"): FULL}, [],
        id="backlog-full",
    ),
    pytest.param(
        {K.index("queued"): FULL}, {"max_backlog": 2, "delay_ms": 1_000}, [-2, 2],
        {K.index("queued"): FULL}, [], id="backlog-full-refuses-delayed-jobs-too",
    ),
    pytest.param(
        {K.index("queued"): FULL, IDEM: Ttl("j0|fp1", 600)},
        {"max_backlog": 2, "idem": "signup-42"}, [0, "j0"],
        {K.index("queued"): FULL, IDEM: Ttl("j0|fp1", 600)}, [],
        id="replay-answers-even-when-backlog-full",
    ),
    pytest.param(
        {K.index("scheduled"): FULL, K.index("queued"): ZSet({"a": NOW - 2})},
        {"max_backlog": 2}, [1, "j1", "queued"],
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
    table: Table, publishes: Publishes, before: State, call: dict[str, Any], reply: list[Any],
    after: State, published: list[tuple[str, str]],
) -> None:
    await table.check(before, lambda: enqueue(table.scripts, **call), reply, after)
    assert await publishes.taken() == published


async def test_enqueue_uses_redis_time_when_now_is_zero(
    redis_client: Redis, scripts: Scripts
) -> None:
    seconds, micros = await redis_client.time()
    before_ms = seconds * 1000 + micros // 1000
    keys = [K.job("j1"), K.stream("normal"), K.scheduled, K.index("queued"),
            K.index("scheduled"), K.events]
    args: list[Any] = [0, "j1", "t", "{}", "normal", 0, "1.0", 0, 0, 1000, "", 0, 10,
                       K.wake_channel]
    assert text(await scripts.enqueue(keys=keys, args=args)) == [1, "j1", "queued"]
    created = int(await redis_client.hget(K.job("j1"), "created") or 0)
    assert before_ms <= created <= before_ms + 5_000


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
