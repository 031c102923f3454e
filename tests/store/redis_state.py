"""Redis states as plain values: seed one from a table row, read one back to compare.

A state maps every key of the database to its value, so a comparison is exact: a key
the script should not have touched, or a key it forgot to write, fails the test.

- hash    -> `dict[str, str]`
- zset    -> `ZSet` (member -> score)
- set     -> `set[str]`
- string  -> `str`
- stream  -> `Stream` (entries, and the pending list of the `workers` group if it has one)
- a key with an expiry is wrapped in `Ttl(value, seconds)` (seconds rounded up)

Entry ids that Redis picks (`XADD *`) are written `ANY_ID`, which equals any id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from streamq.job import Delivery
from streamq.keys import GROUP, PRIORITIES, QueueKeys

Q = "q"
K = QueueKeys("streamq", Q)
"""The queue every table works on, and its keys."""

NOW = 1_700_000_000_000
"""The frozen clock of the tables' store (ms)."""

HIGH, NORMAL = K.stream("high"), K.stream("normal")
TYPE = "email.send"
"""The job type of every record the tables build."""

EVENTS_MAX, DEAD_MAX = 1000, 1000
"""Bounds of the events and dead-letter streams (the tables' settings)."""
OK_TTL_MS, FAILED_TTL_MS = 3_600_000, 7_200_000
"""Retention of a succeeded record, and of a failed or cancelled one."""
IDEM_TTL_MS = 86_400_000
"""Lifetime of an idempotency key."""
MAX_DELIVERIES, MAX_BACKLOG = 3, 100
"""Deliveries lost before a job is dead-lettered; queued jobs above which enqueue refuses."""

LIMIT, LEASE_MS = 2, 30_000
"""Concurrency limit of `TYPE`, and a slot's lease (the visibility timeout), in the admit
and release tables."""
RUNNING, WAITING = K.running(TYPE), K.waiting(TYPE)
RANK = {p: i * 2**44 for i, p in enumerate(PRIORITIES)}
"""The wait rank base of each priority, as the store computes it."""


class _AnyId(str):
    """Equals every entry id: for entries whose id Redis chose."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "ANY_ID"


ANY_ID: str = _AnyId("*")

Fields = dict[str, str]
Entry = tuple[str, Fields]


class ZSet(dict[str, float]):
    """A sorted set: member -> score."""


@dataclass(frozen=True)
class Pending:
    """An entry pending in the `workers` group: its consumer, and how long it has idled."""

    consumer: str
    idle_ms: int = 0


@dataclass(frozen=True, eq=True)
class Stream:
    """A stream's entries; `pending` is None when the stream has no `workers` group.

    Pending ids missing from `entries` are seeded as entries deleted while pending (what
    XDEL or XTRIM leaves behind). `last_delivered` is the group's last-delivered id.
    Read back, `pending` maps each id to its consumer (idle times are not compared).
    """

    entries: list[Entry] = field(default_factory=list)
    pending: Mapping[str, str | Pending] | None = None
    last_delivered: str = "0-0"


@dataclass(frozen=True)
class Ttl:
    """A key with an expiry, in whole seconds (rounded up)."""

    value: Any
    seconds: int


State = dict[str, Any]


# -- seeding ---------------------------------------------------------------------------------


async def seed(r: Redis, state: Mapping[str, Any]) -> None:
    """Write every key of `state` into an empty database."""
    for key, value in state.items():
        ttl = None
        if isinstance(value, Ttl):
            value, ttl = value.value, value.seconds
        await _write(r, key, value)
        if ttl is not None:
            await r.expire(key, ttl)


async def _write(r: Redis, key: str, value: Any) -> None:
    if isinstance(value, Stream):
        await _write_stream(r, key, value)
    elif isinstance(value, ZSet):
        await r.zadd(key, dict(value))
    elif isinstance(value, dict):
        await r.hset(key, mapping=value)
    elif isinstance(value, set):
        await r.sadd(key, *value)
    elif isinstance(value, str):
        await r.set(key, value)
    else:
        raise TypeError(f"cannot seed {key} from {value!r}")


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def _write_stream(r: Redis, key: str, stream: Stream) -> None:
    present = {entry_id for entry_id, _ in stream.entries}
    pending = dict(stream.pending or {})
    ghosts = [entry_id for entry_id in pending if entry_id not in present]
    rows: list[Entry] = [*stream.entries, *((g, {"deleted": "while pending"}) for g in ghosts)]
    for entry_id, fields in sorted(rows, key=lambda row: _id_key(row[0])):
        await r.xadd(key, fields, id=entry_id)  # type: ignore[arg-type]
    if stream.pending is None:
        if not rows:
            await r.xadd(key, {"x": "x"}, id="0-1")  # an empty stream still exists
            await r.xdel(key, "0-1")
        return
    await r.xgroup_create(key, GROUP, id=stream.last_delivered, mkstream=True)
    for entry_id, holder in pending.items():
        who = holder if isinstance(holder, Pending) else Pending(holder)
        await r.xclaim(
            key, GROUP, who.consumer, 0, [entry_id], idle=who.idle_ms, force=True, justid=True
        )
    if ghosts:
        await r.xdel(key, *ghosts)


# -- reading back ----------------------------------------------------------------------------


def text(value: Any) -> Any:
    """Bytes to str, recursively through lists and dicts (script replies, raw reads)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list | tuple):
        return [text(v) for v in value]
    if isinstance(value, dict):
        return {text(k): text(v) for k, v in value.items()}
    return value


async def read_state(r: Redis) -> State:
    """Every key of the database, with its value (and its expiry, if any)."""
    state: State = {}
    for raw in sorted(await r.keys("*")):
        key = text(raw)
        value = await _read(r, key)
        pttl = await r.pttl(key)
        state[key] = Ttl(value, math.ceil(pttl / 1000)) if pttl >= 0 else value
    return state


async def _read(r: Redis, key: str) -> Any:
    kind = text(await r.type(key))
    if kind == "hash":
        return text(await r.hgetall(key))
    if kind == "zset":
        scored: list[Any] = await r.zrange(key, 0, -1, withscores=True)
        return ZSet({text(member): float(score) for member, score in scored})
    if kind == "string":
        return text(await r.get(key))
    if kind == "set":
        return {text(member) for member in await r.smembers(key)}
    if kind == "stream":
        return await _read_stream(r, key)
    raise TypeError(f"unexpected {kind} at {key}")


async def _read_stream(r: Redis, key: str) -> Stream:
    entries: list[Entry] = [
        (text(entry_id), text(fields)) for entry_id, fields in await r.xrange(key) or []
    ]
    groups: list[Any] = await r.xinfo_groups(key)
    if not groups:
        return Stream(entries)
    assert len(groups) == 1 and text(groups[0]["name"]) == GROUP
    group = groups[0]
    rows = await r.xpending_range(key, GROUP, "-", "+", 1000)
    pending = {text(row["message_id"]): text(row["consumer"]) for row in rows}
    return Stream(entries, pending, text(group["last-delivered-id"]))


async def pending_idle_ms(r: Redis, stream: str) -> dict[str, int]:
    """Idle time of each pending entry of the `workers` group."""
    rows = await r.xpending_range(stream, GROUP, "-", "+", 1000)
    return {text(row["message_id"]): int(row["time_since_delivered"]) for row in rows}


# -- building rows ---------------------------------------------------------------------------


PAYLOAD = '{"to":"a@b.c"}'


def record(status: object, **fields: object) -> Fields:
    """A job record as enqueue writes it (queued at NOW - 1000), with `fields` changed."""
    base: Fields = {
        "type": TYPE,
        "payload": PAYLOAD,
        "priority": "normal",
        "status": str(status),
        "attempt": "1",
        "max_retries": "3",
        "timeout": "30.0",
        "deliveries": "0",
        "lost": "0",
        "run": "0",
        "created": str(NOW - 1000),
        "due": str(NOW - 1000),
    }
    base.update({name: str(value) for name, value in fields.items()})
    return base


def running(**fields: object) -> Fields:
    """A record started once by consumer `w1` from entry `1-0` (run 1), `processing` unless
    `fields` names another status."""
    values: dict[str, object] = {
        "status": "processing", "run": 1, "deliveries": 1, "worker": "w1",
        "started": NOW - 500, "entry": "1-0",
    }
    values.update(fields)
    return record(**values)


def entry(job_id: str = "j1", enq: int = NOW - 1000, **fields: str) -> Fields:
    """The fields of a job's stream entry (what a worker needs besides the payload)."""
    base: Fields = {
        "id": job_id, "type": TYPE, "timeout": "30.0",
        "retries": "3", "enq": str(enq),
    }
    base.update(fields)
    return base


def delivery(
    job_id: str = "j1", entry_id: str = "1-0", priority: str = "normal", run: int = 1,
    attempt: int = 1,
) -> Delivery:
    """A fetched entry of queue `Q` as the worker holds it (started as `run` unless 0; only
    a started one has its payload, which the start script hands over)."""
    payload = PAYLOAD.encode() if run else b""
    return Delivery(Q, priority, entry_id.encode(), job_id, TYPE, payload, 30.0, 3,
                    attempt, NOW - 1000, run)


def event(
    job_id: str, frm: str, to: str, attempt: int = 1, time: int = NOW, worker: str = ""
) -> Entry:
    """One entry of the events stream."""
    return (ANY_ID, {
        "job": job_id, "from": frm, "to": to, "attempt": str(attempt), "time": str(time),
        "worker": worker,
    })


def batch_event(*changes: Entry, time: int = NOW, worker: str = "") -> Entry:
    """An events entry of up to ten changes of one batch script call (each made with
    `event`, same time and worker): per-change fields joined by spaces."""
    fields = [f for _, f in changes]
    joined = {name: " ".join(f[name] for f in fields) for name in ("job", "from", "to",
                                                                   "attempt")}
    return (ANY_ID, {**joined, "time": str(time), "worker": worker})


def events(*entries: Entry) -> Stream:
    return Stream(list(entries))


def unwrap(value: Any) -> Any:
    """The value of a key, without its expiry."""
    return value.value if isinstance(value, Ttl) else value
