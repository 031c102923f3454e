"""A batch script writes its state changes as one events entry (an XADD costs Redis about
the same for one change as for a hundred); every reader sees one event per job, and the
stream stays capped in changes, not entries."""

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


async def test_the_stream_is_capped_in_changes(
    redis_client: Redis, settings_for: Callable[..., Settings]
) -> None:
    cap, batch, batches = 200, 50, 40
    store = Store(redis_client, settings_for(events_max_entries=cap))
    events_key = store.keys(Q).events
    await store.ensure_groups(Q)
    for _ in range(batches):
        await store.enqueue(specs([new_job_id() for _ in range(batch)]))
    entries: Any = await redis_client.xrange(events_key)
    kept = sum(len(Event.from_entry(Q, i, f)) for i, f in entries)
    # Trimming is approximate (whole stream nodes, 4 KB by default): at least the cap is
    # kept, and at most about a node more; entry-counted, the cap would have kept all 2,000.
    assert cap <= kept <= 2 * cap, kept
