"""Whole queues: pause and resume, statistics, and the live feed of state changes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence

from ..errors import QueueNotFound, ValidationError
from ..job import Event, Priority
from ..keys import PRIORITIES, check_queue_name
from ..stats import QueueStats, merge_shards
from ..store import Store

EVENT_ID = re.compile(r"\d+(-\d+)?")


async def known_queue(store: Store, known: Sequence[str], queue: str) -> str:
    """The queue itself when the application declares it or Redis holds any of its keys;
    QueueNotFound otherwise (a typo must not pause nothing and answer success)."""
    check_queue_name(queue)
    if queue in known or await store.queue_exists(queue):
        return queue
    raise QueueNotFound(f"no queue {queue!r}: not declared and not in Redis", queue=queue)


async def set_paused(
    store: Store, known: Sequence[str], queue: str, priority: str | None, paused: bool
) -> list[str]:
    """Pause or resume a queue, or one of its priorities, on every node within a second;
    returns the paused priorities after. Enqueueing still works while paused."""
    await known_queue(store, known, queue)
    priorities = list(PRIORITIES) if priority is None else [Priority.parse(priority).value]
    after = [await store.set_paused(name, priorities, paused)
             for name in store.settings.layout.names(queue)]
    return _on_every_shard(after)


async def paused(store: Store, known: Sequence[str], queue: str) -> list[str]:
    """The paused priorities of a queue (all three when the whole queue is paused): those
    paused on every shard."""
    await known_queue(store, known, queue)
    return _on_every_shard([await store.paused_priorities(name)
                            for name in store.settings.layout.names(queue)])


def _on_every_shard(per_shard: list[list[str]]) -> list[str]:
    return [p for p in PRIORITIES if all(p in paused for paused in per_shard)]


async def stats(store: Store, queues: Sequence[str]) -> list[QueueStats]:
    """Each queue's streams, scheduled, dead and workers, in one round trip; a sharded
    queue's numbers are the sums over its shards."""
    layout = store.settings.layout
    names = layout.expand(check_queue_name(q) for q in queues)
    per_shard = iter(await store.queue_stats(names))
    return [merge_shards([next(per_shard) for _ in range(layout.count(q))]) for q in queues]


async def watch(
    store: Store,
    queues: Sequence[str],
    job_id: str | None,
    since: str | None,
    block_ms: int,
) -> AsyncIterator[Event]:
    """Yield state changes as they happen (of one job, or of all), from the queues' events
    streams. `since`: an event id to start after ('0' for all retained events); default:
    only events after the first read."""
    if since is not None and not EVENT_ID.fullmatch(since):
        raise ValidationError("since must be an event id such as 1700000000000-0",
                              field="since")
    after = (
        await store.events_last_ids(queues) if since is None else dict.fromkeys(queues, since)
    )
    while True:
        for event in await store.read_events(after, block_ms):
            after[event.shard_queue] = event.id
            if job_id is None or event.job_id == job_id:
                yield event
