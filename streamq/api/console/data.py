"""What the console shows, read through the library: App's public methods, the store's
methods and the console's own store module. No key name is built here; the `redis-cli`
commands shown beside the numbers take their key names from the store.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ...app import App
from ...fingerprint import error_fingerprint
from ...job import DeadLetter, Event, Job, JobStatus
from ...shards import Layout, queue_of
from ...store import Store
from ...store.console import ConsoleStore
from ...store.trail import KINDS, Minute, Trail
from .explorer import opt

DEAD_SCAN = 20_000
"""Dead-letter entries the grouped view reads at most (newest first)."""


def redis_cli(*words: str) -> str:
    """A `redis-cli` command line an operator can paste."""
    return " ".join(["redis-cli", *(shlex.quote(w) for w in words)])


# -- overview ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One number and the `redis-cli` command that shows it."""

    value: Any
    command: str


@dataclass(frozen=True)
class PriorityRow:
    priority: str
    waiting: Cell
    in_flight: Cell
    consumers: Cell
    oldest_age_s: Cell
    paused: Cell


@dataclass(frozen=True)
class QueueView:
    name: str
    priorities: list[PriorityRow]
    scheduled: Cell
    parked: Cell
    dead: Cell
    workers: Cell
    paused: list[str]
    minutes: list[Minute]

    @property
    def succeeded_last_hour(self) -> int:
        return sum(m.ok for m in self.minutes)

    @property
    def failed_last_hour(self) -> int:
        return sum(m.err for m in self.minutes)


async def overview(app: App) -> list[QueueView]:
    """Every queue of the app, per priority, with the last hour's outcome counters."""
    store = app.store
    stats = await app.queue_stats()
    now_ms = await store.redis_time_ms()
    layout = app.registry.layout
    minutes = await _minutes(store, layout, [q.queue for q in stats], now_ms)
    views = []
    for q in stats:
        k = store.keys(q.queue)
        limited = [t.name for t in app.tasks.values()
                   if t.options.concurrency and t.options.queue == q.queue]
        parked = sum([await store.parked_count(name, limited) for name in layout.names(q.queue)])
        rows = []
        for p in q.priorities:
            groups = redis_cli("XINFO", "GROUPS", p.stream)
            rows.append(PriorityRow(
                priority=p.priority,
                waiting=Cell(p.lag, groups + "   # lag (or XLEN minus pending)"),
                in_flight=Cell(p.pending, groups + "   # pending"),
                consumers=Cell(p.consumers, groups + "   # consumers"),
                oldest_age_s=Cell(p.oldest_age_s, redis_cli("XINFO", "STREAM", p.stream)
                                  + "   # first-entry"),
                paused=Cell(p.paused, redis_cli("HGETALL", k.paused)),
            ))
        parked_cmd = "; ".join(redis_cli("ZCARD", k.waiting(t)) for t in limited)
        views.append(QueueView(
            name=q.queue,
            priorities=rows,
            scheduled=Cell(q.scheduled, redis_cli("ZCARD", k.scheduled)),
            parked=Cell(parked, parked_cmd or "no task of this queue has a concurrency limit"),
            dead=Cell(q.dead, redis_cli("XLEN", k.dead)),
            workers=Cell(q.workers, redis_cli("ZRANGE", k.workers, "0", "-1",
                                              "WITHSCORES")),
            paused=[p.priority for p in q.priorities if p.paused],
            minutes=minutes[q.queue],
        ))
    return views


async def _minutes(
    store: Store, layout: Layout, queues: list[str], now_ms: int
) -> dict[str, list[Minute]]:
    """Each queue's last hour of outcome counters, summed over its shards."""
    per_shard = await Trail(store).minutes(layout.expand(queues), now_ms)
    out: dict[str, list[Minute]] = {}
    for name, minutes in per_shard.items():
        queue = queue_of(name)
        out[queue] = minutes if queue not in out else [
            Minute(a.minute, **{kind: getattr(a, kind) + getattr(b, kind) for kind in KINDS})
            for a, b in zip(out[queue], minutes, strict=True)
        ]
    return out


# -- one job -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    run: int
    attempt: int
    worker: str
    outcome: str
    stale: bool
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    error_type: str
    error: str
    traceback: str
    reason: str


@dataclass(frozen=True)
class JobDetail:
    job: Job
    events: list[Event]
    attempts: list[Attempt]
    payload_schema: dict[str, Any] | None
    commands: list[str] = field(default_factory=list)

    @property
    def archived(self) -> bool:
        """Read from the history archive: Redis has forgotten it, so no action applies."""
        return self.job.source == "history"

    @property
    def can_cancel(self) -> bool:
        return not self.archived and not self.job.status.terminal

    @property
    def can_retry(self) -> bool:
        return not self.archived and self.job.status in (JobStatus.FAILED, JobStatus.CANCELLED)

    @property
    def can_run_now(self) -> bool:
        return not self.archived and self.job.status in (JobStatus.SCHEDULED, JobStatus.RETRYING)

    @property
    def can_delete(self) -> bool:
        return not self.archived and self.job.status.terminal


def _ms_time(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


def _kept_attempt(raw: dict[str, Any]) -> Attempt:
    finished = _ms_time(int(raw.get("finished_ms") or 0))
    duration = float(raw.get("duration_s") or 0) or None
    started = None
    if finished is not None and duration is not None:
        started = datetime.fromtimestamp(finished.timestamp() - duration, tz=UTC)
    return Attempt(
        run=int(raw.get("run") or 0), attempt=int(raw.get("attempt") or 0),
        worker=str(raw.get("worker") or ""), outcome=str(raw.get("outcome") or ""),
        stale=bool(raw.get("stale")), started_at=started, finished_at=finished,
        duration_s=duration, error_type=str(raw.get("error_type") or ""),
        error=str(raw.get("error") or ""), traceback=str(raw.get("traceback") or ""),
        reason=str(raw.get("reason") or ""),
    )


def _current_attempt(job: Job) -> Attempt:
    duration = None
    if job.started_at and job.finished_at:
        duration = (job.finished_at - job.started_at).total_seconds()
    return Attempt(
        run=job.run, attempt=job.attempt, worker=job.worker or "", outcome=job.status.value,
        stale=False, started_at=job.started_at, finished_at=job.finished_at,
        duration_s=duration, error_type=job.error_type or "", error=job.error or "",
        traceback=job.traceback or "", reason=job.reason or "",
    )


async def job_detail(app: App, job_id: str) -> JobDetail:
    """The record, its retained events, and every attempt: those the completers kept
    (failures, fenced-off stale outcomes), then the one the record tells."""
    job = await app.get_job(job_id)
    console = ConsoleStore(app.store)
    events = await console.job_events(job.shard_queue, job.id)
    kept = [_kept_attempt(a) for a in await Trail(app.store).attempts(job.shard_queue, job.id)]
    current_told = any(a.run == job.run and not a.stale for a in kept)
    started = job.started_at is not None and job.run > 0
    if started and not current_told and job.status not in (
        JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.RETRYING
    ):
        kept.append(_current_attempt(job))
    task = app.tasks.get(job.type)
    k = app.store.keys(job.shard_queue)
    commands = [] if job.source == "history" else [
        redis_cli("HGETALL", k.job(job.id)),
        redis_cli("LRANGE", k.attempts(job.id), "0", "-1"),
        redis_cli("XRANGE", k.events, "-", "+"),
    ]
    schema = task.payload_schema if task is not None else None
    return JobDetail(job, events, kept, schema, commands)


# -- dead letters ------------------------------------------------------------------------------


@dataclass
class DeadGroup:
    fingerprint: str
    error_type: str
    error: str
    reason: str
    count: int
    first_seen: datetime
    last_seen: datetime
    types: set[str]
    queues: set[str]
    sample_job_id: str
    sample_traceback: str = ""


@dataclass(frozen=True)
class DeadFilter:
    queue: str | None = None
    type: str | None = None
    fingerprint: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> DeadFilter:
        return cls(opt(query, "queue"), opt(query, "type"), opt(query, "fingerprint", 64))

    def query(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class DeadGroups:
    groups: list[DeadGroup]
    scanned: int
    complete: bool


async def dead_groups(app: App, f: DeadFilter, scan: int = DEAD_SCAN) -> DeadGroups:
    """Live dead letters grouped by error fingerprint, most frequent first, from the
    newest `scan` entries (the view says when there were more)."""
    groups: dict[str, DeadGroup] = {}
    scanned, cursor = 0, None
    while scanned < scan:
        page = await app.dlq_list(queue=f.queue, type=f.type, fingerprint=f.fingerprint,
                                  limit=min(1000, scan - scanned), cursor=cursor)
        for d in page.entries:
            _add(groups, d)
        scanned += len(page.entries)
        cursor = page.next_cursor
        if cursor is None:
            break
    ordered = sorted(groups.values(), key=lambda g: (-g.count, g.fingerprint))
    for group in ordered[:20]:
        try:
            group.sample_traceback = (await app.get_job(group.sample_job_id)).traceback or ""
        except Exception:  # expired meanwhile: the group still stands
            group.sample_traceback = ""
    return DeadGroups(ordered, scanned, cursor is None)


def _add(groups: dict[str, DeadGroup], d: DeadLetter) -> None:
    g = groups.get(d.fingerprint)
    if g is None:
        groups[d.fingerprint] = DeadGroup(
            d.fingerprint, d.error_type, d.error, d.reason, 1, d.failed_at, d.failed_at,
            {d.type}, {d.queue}, d.job_id,
        )
        return
    g.count += 1
    g.first_seen = min(g.first_seen, d.failed_at)
    g.last_seen = max(g.last_seen, d.failed_at)
    g.types.add(d.type)
    g.queues.add(d.queue)


async def dead_count(app: App, f: DeadFilter) -> int:
    """How many live dead letters match (read in pages of 1000)."""
    total, cursor = 0, None
    while True:
        page = await app.dlq_list(queue=f.queue, type=f.type, fingerprint=f.fingerprint,
                                  limit=1000, cursor=cursor)
        total += len(page.entries)
        cursor = page.next_cursor
        if cursor is None:
            return total


def fingerprint_of(job: Job) -> str | None:
    return error_fingerprint(job.error_type or "", job.error) if job.error else None


