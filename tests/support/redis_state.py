"""Redis states as plain values: read a whole database back to compare, or seed one.

A state maps every key of the database to its value, so a comparison is exact: a key a
call should not have touched, or a key it forgot to write, fails the test, and pytest's
diff names it.

- hash    -> `dict[str, str]`
- zset    -> `ZSet` (member -> score)
- set     -> `set[str]`
- list    -> `list[str]`
- string  -> `str`
- stream  -> `Stream` (entries, and the pending list of the `workers` group if it has one)
- text that is not UTF-8 stays `bytes`

Two readings:
- `read_state`: what a table row spells out; a key with an expiry is `Ttl(value, seconds)`
  (seconds left, rounded up). Entry ids that Redis picks are written `ANY_ID` in rows.
- `snapshot`: for "this call changed nothing": also what a row never spells out (a
  stream's last id, entries added, consumers and delivery counts), and expiries as
  `Expiring(value, at_ms)`, absolute, so an untouched key reads the same a second later.
  Two snapshots are equal only if nothing changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from streamq.keys import GROUP


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


@dataclass(frozen=True)
class StreamDetail:
    """What `snapshot` reads of a stream beyond its entries and pending list."""

    last_id: str
    entries_added: int
    consumers: dict[str, int]
    """Consumers of the `workers` group and how many entries each has pending."""
    deliveries: dict[str, int]
    """How many times each pending entry was delivered."""


@dataclass(frozen=True, eq=True)
class Stream:
    """A stream's entries; `pending` is None when the stream has no `workers` group.

    Pending ids missing from `entries` are seeded as entries deleted while pending (what
    XDEL or XTRIM leaves behind). `last_delivered` is the group's last-delivered id.
    Read back, `pending` maps each id to its consumer (idle times are not compared).
    `detail` is read by `snapshot` only.
    """

    entries: list[Entry] = field(default_factory=list)
    pending: Mapping[str, str | Pending] | None = None
    last_delivered: str = "0-0"
    detail: StreamDetail | None = None


@dataclass(frozen=True)
class Ttl:
    """A key with an expiry, in whole seconds left (rounded up)."""

    value: Any
    seconds: int


@dataclass(frozen=True)
class Expiring:
    """A key with an expiry, as the absolute time it expires at (ms since the epoch)."""

    value: Any
    at_ms: int


State = dict[str, Any]


def text(value: Any) -> Any:
    """Bytes to str, recursively through lists and dicts (script replies, raw reads);
    bytes that are not UTF-8 stay bytes."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return value
    if isinstance(value, list | tuple):
        return [text(v) for v in value]
    if isinstance(value, dict):
        return {text(k): text(v) for k, v in value.items()}
    return value


def unwrap(value: Any) -> Any:
    """The value of a key, without its expiry."""
    return value.value if isinstance(value, Ttl | Expiring) else value


# -- reading back ----------------------------------------------------------------------------


async def key_names(r: Redis, match: str | None = None) -> list[str]:
    """Every key of the database (or those matching the glob `match`), sorted; by SCAN,
    so a big database is not blocked."""
    return sorted([text(k) async for k in r.scan_iter(match=match, count=1000)])


async def read_state(r: Redis) -> State:
    """Every key of the database, with its value (and its seconds to live, if any)."""
    state: State = {}
    for key in await key_names(r):
        value = await _read(r, key, detail=False)
        pttl = await r.pttl(key)
        state[key] = Ttl(value, math.ceil(pttl / 1000)) if pttl >= 0 else value
    return state


async def snapshot(r: Redis) -> State:
    """Every key of the database, exactly: equal before and after a call iff the call
    changed nothing."""
    state: State = {}
    for key in await key_names(r):
        value = await _read(r, key, detail=True)
        at_ms = int(await r.execute_command("PEXPIRETIME", key))  # type: ignore[no-untyped-call]
        state[key] = Expiring(value, at_ms) if at_ms >= 0 else value
    return state


async def _read(r: Redis, key: str, detail: bool) -> Any:
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
    if kind == "list":
        return text(await r.lrange(key, 0, -1))
    if kind == "stream":
        return await _read_stream(r, key, detail)
    raise TypeError(f"unexpected {kind} at {key}")


async def _read_stream(r: Redis, key: str, detail: bool) -> Stream:
    entries: list[Entry] = [
        (text(entry_id), text(fields)) for entry_id, fields in await r.xrange(key) or []
    ]
    groups: list[Any] = await r.xinfo_groups(key)
    info = await _stream_detail(r, key, groups) if detail else None
    if not groups:
        return Stream(entries, detail=info)
    assert len(groups) == 1 and text(groups[0]["name"]) == GROUP, groups
    rows = await r.xpending_range(key, GROUP, "-", "+", max(1, int(groups[0]["pending"])))
    pending = {text(row["message_id"]): text(row["consumer"]) for row in rows}
    return Stream(entries, pending, text(groups[0]["last-delivered-id"]), info)


async def _stream_detail(r: Redis, key: str, groups: list[Any]) -> StreamDetail:
    info: Any = await r.xinfo_stream(key)
    consumers: dict[str, int] = {}
    deliveries: dict[str, int] = {}
    if groups:
        for c in await r.xinfo_consumers(key, GROUP):
            consumers[text(c["name"])] = int(c["pending"])
        count = max(1, int(groups[0]["pending"]))
        for row in await r.xpending_range(key, GROUP, "-", "+", count):
            deliveries[text(row["message_id"])] = int(row["times_delivered"])
    return StreamDetail(
        text(info["last-generated-id"]), int(info.get("entries-added", 0)), consumers,
        deliveries,
    )


async def pending_idle_ms(r: Redis, stream: str) -> dict[str, int]:
    """Idle time of each pending entry of the `workers` group."""
    rows = await r.xpending_range(stream, GROUP, "-", "+", 1000)
    return {text(row["message_id"]): int(row["time_since_delivered"]) for row in rows}


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
    elif isinstance(value, list):
        await r.rpush(key, *value)
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
