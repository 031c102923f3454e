"""A batch script writes its state changes in events entries of up to ten (an XADD costs
Redis about the same for one change as for ten); every reader sees one event per job, and
the stream stays capped in entries, so a batch never trims the changes before it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from streamq.ids import new_job_id
from streamq.job import Event, Outcome, OutcomeKind
from streamq.keys import PRIORITIES
from streamq.settings import Settings
from streamq.store import EnqueueSpec, Store
from streamq.store.console import ConsoleStore

Q = "default"


def specs(ids: list[str]) -> list[EnqueueSpec]:
    return [EnqueueSpec(Q, j, "t", b'{"n":1}', "normal", 3, 30.0) for j in ids]


async def test_one_entry_per_call_read_back_as_one_event_per_job(
    store: Store, redis_client: Redis
) -> None:
    events_key = store.keys(Q).events
    await store.ensure_groups(Q)
    before = await store.events_last_ids([Q])
    ids = ["j1", "j2", "j3"]
    await store.enqueue(specs(ids))
    assert await redis_client.xlen(events_key) == 1
    [(_, fields)] = await redis_client.xrange(events_key)
    assert fields[b"job"] == b"j1 j2 j3" and fields[b"to"] == b"queued queued queued"
    started = await store.start("w1", (await store.fetch(Q, PRIORITIES, "w1", 10)).deliveries)
    await store.finish([Outcome(d, OutcomeKind.SUCCEEDED, result=b"1") for d in started])
    assert await redis_client.xlen(events_key) == 3  # enqueue, start, finish: one each

    events = await store.read_events(before, 100)
    assert [(e.job_id, e.from_status, e.to_status, e.attempt, e.worker) for e in events] == [
        *((j, None, "queued", 1, None) for j in ids),
        *((j, "queued", "processing", 1, "w1") for j in ids),
        *((j, "processing", "succeeded", 1, "w1") for j in ids),
    ]
    assert len({e.id for e in events}) == 3  # the changes of one call share its entry

    trail = await ConsoleStore(store).job_events(Q, "j2")
    assert [(e.from_status, e.to_status) for e in trail] == [
        (None, "queued"), ("queued", "processing"), ("processing", "succeeded"),
    ]


async def test_a_single_change_keeps_the_plain_entry(store: Store, redis_client: Redis) -> None:
    await store.ensure_groups(Q)
    await store.enqueue(specs(["solo"]))
    [(entry_id, fields)] = await redis_client.xrange(store.keys(Q).events)
    assert fields == {b"job": b"solo", b"from": b"", b"to": b"queued", b"attempt": b"1",
                      b"time": fields[b"time"], b"worker": b""}
    [event] = Event.from_entry(Q, entry_id, fields)
    assert (event.job_id, event.from_status, event.to_status) == ("solo", None, "queued")


async def test_entries_hold_at_most_ten_changes(store: Store, redis_client: Redis) -> None:
    await store.ensure_groups(Q)
    ids = [new_job_id() for _ in range(25)]
    await store.enqueue(specs(ids))
    entries: Any = await redis_client.xrange(store.keys(Q).events)
    held = [[e.job_id for e in Event.from_entry(Q, i, f)] for i, f in entries]
    assert held == [ids[:10], ids[10:20], ids[20:]]


async def test_the_cap_counts_entries_so_a_batch_never_trims_the_changes_before_it(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    cap = 20
    store = Store(redis_client, settings_for(events_max_entries=cap))
    events_key = store.keys(Q).events
    await store.ensure_groups(Q)
    singles = [new_job_id() for _ in range(150)]  # more than a stream node holds (100)
    for job_id in singles:
        await store.enqueue(specs([job_id]))
    await store.enqueue(specs([new_job_id() for _ in range(50)]))  # 5 entries
    entries: Any = await redis_client.xrange(events_key)
    kept = {e.job_id for i, f in entries for e in Event.from_entry(Q, i, f)}
    # The newest `cap` entries stay whatever they hold: the last 15 single enqueues. A cap
    # divided by the batch's size (1 entry here) dropped them with their stream node.
    assert set(singles[-15:]) <= kept
    assert len(entries) < 150 + 5  # and it is trimmed


def test_a_damaged_entry_reads_as_defaults_not_an_error() -> None:
    fields = {b"job": b"j1 j2", b"to": b"queued", b"attempt": b"x", b"time": b"soon"}
    events = Event.from_entry(Q, b"1-0", fields)
    assert [(e.job_id, e.from_status, e.to_status, e.attempt) for e in events] == [
        ("j1", None, "queued", 0), ("j2", None, "", 0),
    ]
    assert Event.from_entry(Q, b"2-0", {b"to": b"queued"}) == []  # no job: no change
