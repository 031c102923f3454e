"""Watching a run from outside: job statuses in bulk, process CPU and memory, Redis stats."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

import anyio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from streamq.keys import QueueKeys
from streamq.shards import id_shard, shard_name

TERMINAL = {b"succeeded", b"failed", b"cancelled"}


def job_key(queue: str, job_id: str) -> str:
    """The record's key, on the shard the id names (the queue itself when unsharded)."""
    return QueueKeys("streamq", shard_name(queue, id_shard(job_id))).job(job_id)


async def statuses(redis: Redis, ids: list[str], queue: str = "default") -> list[bytes | None]:
    """Each job's status (None: no record), in pipelined chunks."""
    out: list[bytes | None] = []
    for i in range(0, len(ids), 2000):
        pipe = redis.pipeline(transaction=False)
        for job_id in ids[i : i + 2000]:
            pipe.hget(job_key(queue, job_id), "status")
        out += await pipe.execute()
    return out


async def records(
    redis: Redis, ids: list[str], queue: str = "default"
) -> dict[str, dict[bytes, bytes]]:
    """Each job's whole record (empty: none), in pipelined chunks."""
    out: dict[str, dict[bytes, bytes]] = {}
    for i in range(0, len(ids), 1000):
        chunk = ids[i : i + 1000]
        pipe = redis.pipeline(transaction=False)
        for job_id in chunk:
            pipe.hgetall(job_key(queue, job_id))
        for job_id, rec in zip(chunk, await pipe.execute(), strict=True):
            out[job_id] = rec
    return out


async def wait_terminal(
    redis: Redis, ids: list[str], timeout_s: float, queue: str = "default"
) -> float:
    """Wait until every job is terminal; returns the seconds it took (or raises)."""
    began = time.monotonic()
    remaining = list(ids)
    with anyio.fail_after(timeout_s):
        while True:
            try:
                found = await statuses(redis, remaining, queue)
            except (RedisError, OSError):
                await anyio.sleep(0.2)
                continue
            remaining = [j for j, s in zip(remaining, found, strict=True) if s not in TERMINAL]
            if not remaining:
                return time.monotonic() - began
            await anyio.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def total_cpu(pids: Iterable[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except FileNotFoundError:
            pass
    return total
