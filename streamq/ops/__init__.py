"""What the library, the API, the CLI and the console share: each module one concern
(jobs, listing, dead letters, queues), each given a Store, never the App."""

from __future__ import annotations

from collections.abc import Sequence

from ..keys import check_queue_name
from ..shards import Layout


def queues_in_scope(known: Sequence[str], queue: str | None) -> list[str]:
    """The queues an operation covers: the one named (checked), or every known queue."""
    if queue is None:
        return list(known)
    return [check_queue_name(queue)]


def shards_in_scope(layout: Layout, known: Sequence[str], queue: str | None) -> list[str]:
    """The shard names an operation covers: every shard of every queue in scope (a
    queue of one shard is its own shard 0)."""
    return layout.expand(queues_in_scope(known, queue))
