"""Sharded queues: one queue split into N shards, each a complete set of the queue's keys
under its own hash tag, so that one queue spreads over the nodes of a Redis Cluster.

Shard 0 keeps the queue's own name and keys (`{q}`); shard k > 0 is named `q#k` and its
keys carry `{q#k}`. With one shard nothing changes, and growing a queue from 1 to N shards
leaves its existing jobs where they are (on shard 0). A job id tells its shard: ids of
shard k > 0 end with `.k`, ids of shard 0 carry no mark, so a lookup by id costs one read.

Everything below this routing (the store, the scripts) works on one shard exactly as on an
unsharded queue: a shard name is passed where a queue name was.
"""

from __future__ import annotations

import itertools
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping

SEPARATOR = "#"
ID_MARK = "."
MAX_SHARDS = 64


def shard_name(queue: str, shard: int) -> str:
    """The name a shard's keys are built from: the queue itself for shard 0."""
    return queue if shard == 0 else f"{queue}{SEPARATOR}{shard}"


def split(name: str) -> tuple[str, int]:
    """(queue, shard) of a shard name; a plain queue name is its own shard 0."""
    queue, sep, number = name.rpartition(SEPARATOR)
    if sep and number.isdigit():
        return queue, int(number)
    return name, 0


def queue_of(name: str) -> str:
    """The queue a shard name belongs to (metrics and views count per queue)."""
    return split(name)[0]


def tag_id(job_id: str, shard: int) -> str:
    """The job id marked with its shard (unchanged for shard 0)."""
    return job_id if shard == 0 else f"{job_id}{ID_MARK}{shard}"


def id_shard(job_id: str) -> int:
    """The shard a job id names: the number after its last `.`, else 0."""
    _, sep, number = job_id.rpartition(ID_MARK)
    if sep and number.isdigit() and len(number) <= 2:
        return int(number)
    return 0


def key_shard(key: str, shards: int) -> int:
    """The shard a key (partition key, idempotency key, limited type, cron name) always
    lands on: a stable hash, the same in every process."""
    return zlib.crc32(key.encode()) % shards if shards > 1 else 0


class Layout:
    """How many shards each queue has (`shards`, overridden per queue), and the round robin
    that spreads a producer's jobs without a key over them."""

    def __init__(self, default: int = 1, per_queue: Mapping[str, int] | None = None) -> None:
        self.default = default
        self.per_queue = dict(per_queue or {})
        self._turns: dict[str, Iterator[int]] = {}

    def count(self, queue: str) -> int:
        return self.per_queue.get(queue, self.default)

    def names(self, queue: str) -> list[str]:
        """Every shard name of a queue, shard 0 first."""
        return [shard_name(queue, k) for k in range(self.count(queue))]

    def expand(self, queues: Iterable[str]) -> list[str]:
        """The shard names of every queue, queue by queue."""
        return [name for queue in queues for name in self.names(queue)]

    def shard_for(self, queue: str, key: str | None) -> int:
        """The shard of the key when one is given, else the next in the round robin."""
        n = self.count(queue)
        if n == 1:
            return 0
        return key_shard(key, n) if key is not None else self.next_shard(queue)

    def next_shard(self, queue: str) -> int:
        """Round robin from a random start, so that many producers do not all begin on
        shard 0."""
        n = self.count(queue)
        if n == 1:
            return 0
        turn = self._turns.get(queue)
        if turn is None:
            start = int.from_bytes(os.urandom(2), "big")
            turn = self._turns[queue] = itertools.count(start)
        return next(turn) % n
