"""The trail completers leave for the console: outcome counters per minute and the
attempts a job record no longer tells. The only module sending these commands.

Both are written after the outcomes themselves, in one pipelined round trip: counts at
most once a second (and within a second of the last outcome), kept attempts with the
batch that ended them. So they cost a worker no round trip per job:

- `streamq:{q}:stats` (hash): `<unix minute>:ok|err|dead` -> count. A node's first write
  in a minute drops the fields of the minutes 61 to 125 ago, and every write refreshes a
  65-minute TTL, so the hash holds at most about an hour of minutes whatever the traffic
  (no write for 65 minutes and the key expires; until then, each minute with a write
  swept the hour before it).
- `streamq:{q}:attempts:<id>` (list): one JSON object per ended attempt that the record
  overwrites or never holds: a failed attempt followed by a retry, the final failure, and
  an outcome fenced off because a newer run owned the job. A successful job has no list.
  At most `max_retries + max_deliveries + 1` entries, and it expires with failed records.

The counters use the worker's clock (minute resolution); they are diagnostic figures and
never decide anything.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..job import Outcome, OutcomeKind
from . import Store
from .classify import translate_errors
from .codes import FinishCode

WINDOW_MIN = 60
_FORGET_FROM, _FORGET_TO = 61, 125
KINDS = ("ok", "err", "dead")
APPLIED, STALE = FinishCode.APPLIED, FinishCode.STALE
FLUSH_S = 1.0
"""Longest time counts wait in a node's memory while outcomes keep coming."""


@dataclass(frozen=True, slots=True)
class Minute:
    """Outcomes of one minute of one queue: succeeded, failed attempts, dead-lettered."""

    minute: int
    ok: int = 0
    err: int = 0
    dead: int = 0


def _kind(outcome: Outcome) -> str | None:
    if outcome.kind is OutcomeKind.SUCCEEDED:
        return "ok"
    if outcome.kind in (OutcomeKind.RETRY, OutcomeKind.FAILED):
        return "err"
    return None


def attempt_entry(outcome: Outcome, worker: str, code: int, now_ms: int) -> bytes:
    d = outcome.delivery
    return orjson.dumps({
        "run": d.run, "attempt": d.attempt, "worker": worker, "outcome": outcome.kind.value,
        "stale": code == STALE, "duration_s": round(outcome.duration_s, 6),
        "finished_ms": now_ms, "error_type": outcome.error_type, "error": outcome.error,
        "traceback": outcome.traceback, "reason": outcome.reason,
    })


@translate_errors
class Trail:
    """Reads and writes of the counters and attempt lists, through the store's client."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._swept: dict[str, int] = {}
        """Queue -> the last minute this node dropped old fields in."""
        self._counts: dict[tuple[str, int], Counter[str]] = defaultdict(Counter)
        self._kept: list[tuple[str, str, bytes]] = []
        self._flushed = 0.0

    async def record(
        self, outcomes: Sequence[Outcome], codes: Sequence[int], worker: str,
        now_ms: int | None = None, flush: bool = True,
    ) -> None:
        """Count a persisted batch and keep the attempts worth keeping. Counts wait in
        memory while more outcomes are coming (`flush=False`), for up to `FLUSH_S`; kept
        attempts are written at once. One round trip per write."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        minute = now // 60_000
        for outcome, code in zip(outcomes, codes, strict=True):
            d = outcome.delivery
            kind = _kind(outcome)
            if code == APPLIED and kind is not None:
                self._counts[(d.queue, minute)][kind] += 1
                if outcome.kind is OutcomeKind.FAILED:
                    self._counts[(d.queue, minute)]["dead"] += 1
            if (code == APPLIED and outcome.kind is not OutcomeKind.SUCCEEDED) or code == STALE:
                self._kept.append((d.queue, d.job_id, attempt_entry(outcome, worker, code, now)))
        due = time.monotonic() - self._flushed >= FLUSH_S
        if (self._counts or self._kept) and (flush or due or self._kept):
            await self._write(minute)

    @property
    def pending(self) -> bool:
        """Counts wait in memory: the completer flushes them when it has been idle a while."""
        return bool(self._counts)

    async def flush(self) -> None:
        if self._counts or self._kept:
            await self._write(int(time.time() * 1000) // 60_000)

    async def _write(self, minute: int) -> None:
        counts, kept = self._counts, self._kept
        self._counts, self._kept = defaultdict(Counter), []
        self._flushed = time.monotonic()
        s = self.store.settings
        pipe = self.store.redis.pipeline(transaction=False)
        for (queue, at), counter in counts.items():
            key = self.store.keys(queue).stats
            for kind, n in counter.items():
                pipe.hincrby(key, f"{at}:{kind}", n)
            if self._swept.get(queue) != minute:
                old = [f"{m}:{k}" for m in range(minute - _FORGET_TO, minute - _FORGET_FROM + 1)
                       for k in KINDS]
                pipe.hdel(key, *old)
                self._swept[queue] = minute
            pipe.expire(key, (WINDOW_MIN + 5) * 60)
        for queue, job_id, entry in kept:
            key = self.store.keys(queue).attempts(job_id)
            pipe.rpush(key, entry)
            pipe.pexpire(key, s.failed_ttl_s * 1000)
        await pipe.execute()

    async def minutes(self, queues: Sequence[str], now_ms: int) -> dict[str, list[Minute]]:
        """Each queue's last `WINDOW_MIN` minutes, oldest first (zeros where idle)."""
        pipe = self.store.redis.pipeline(transaction=False)
        for queue in queues:
            pipe.hgetall(self.store.keys(queue).stats)
        last = now_ms // 60_000
        out: dict[str, list[Minute]] = {}
        for queue, raw in zip(queues, await pipe.execute(), strict=True):
            seen: dict[int, dict[str, int]] = defaultdict(dict)
            for field, value in raw.items():
                m, _, kind = field.decode().partition(":")
                if m.isdigit() and kind in KINDS:
                    seen[int(m)][kind] = int(value)
            out[queue] = [
                Minute(m, **seen.get(m, {})) for m in range(last - WINDOW_MIN + 1, last + 1)
            ]
        return out

    async def attempts(self, queue: str, job_id: str) -> list[dict[str, Any]]:
        """The job's kept attempts, oldest first."""
        raw = await self.store.redis.lrange(self.store.keys(queue).attempts(job_id), 0, -1)
        return [orjson.loads(r) for r in raw]

    async def forget(self, queue: str, job_id: str) -> None:
        await self.store.redis.delete(self.store.keys(queue).attempts(job_id))
