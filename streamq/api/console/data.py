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
from ...errors import ValidationError
from ...fingerprint import error_fingerprint
from ...job import DeadLetter, Event, Job, JobStatus, Priority
from ...keys import STATUSES
from ...ops.pagination import Cursor
from ...store.console import ConsoleStore
from ...store.trail import Minute, Trail

EXPLORE_BUDGET = 5_000
"""Jobs one explorer page examines at most when filters apply on top of the index."""
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
    minutes = await Trail(store).minutes([q.queue for q in stats], now_ms)
    views = []
    for q in stats:
        k = store.keys(q.queue)
        limited = [t.name for t in app.tasks.values()
                   if t.options.concurrency and t.options.queue == q.queue]
        parked = await store.parked_count(q.queue, limited)
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


# -- jobs explorer -----------------------------------------------------------------------------


def _opt(query: Mapping[str, str], name: str, longest: int = 200) -> str | None:
    value = query.get(name, "").strip()
    if not value:
        return None
    if len(value) > longest:
        raise ValidationError(f"{name} is longer than {longest} characters", field=name)
    return value


def _time(query: Mapping[str, str], name: str) -> datetime | None:
    value = _opt(query, name, 40)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name} must be a time such as 2025-01-31T12:00",
                              field=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class JobFilters:
    """The explorer's filters, as the URL holds them."""

    status: str | None = None
    type: str | None = None
    queue: str | None = None
    priority: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    fingerprint: str | None = None
    node: str | None = None
    id: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> JobFilters:
        status = _opt(query, "status")
        if status is not None and status not in STATUSES:
            raise ValidationError(f"unknown status {status!r}", field="status")
        priority = _opt(query, "priority")
        if priority is not None:
            priority = Priority.parse(priority).value
        f = cls(status, _opt(query, "type"), _opt(query, "queue"), priority,
                _time(query, "since"), _time(query, "until"), _opt(query, "fingerprint", 64),
                _opt(query, "node"), _opt(query, "id", 100))
        if f.since and f.until and f.since > f.until:
            raise ValidationError("since must not be after until", field="since")
        return f

    def query(self) -> dict[str, str]:
        """The non-empty filters as URL parameters."""
        out = {}
        for name, value in self.__dict__.items():
            if value is not None:
                out[name] = value.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(
                    value, datetime) else str(value)
        return out

    @property
    def narrowing(self) -> bool:
        """Filters the listing index cannot apply itself."""
        return any(v is not None for v in (self.priority, self.since, self.until,
                                           self.fingerprint, self.node))

    def keeps(self, job: Job) -> bool:
        if self.priority is not None and job.priority.value != self.priority:
            return False
        if self.node is not None and (job.worker or "") != self.node:
            return False
        if self.fingerprint is not None and (
            not job.error or error_fingerprint(job.error_type or "", job.error)
            != self.fingerprint
        ):
            return False
        created = job.created_at
        if self.since is not None and (created is None or created < self.since):
            return False
        return not (self.until is not None and (created is None or created > self.until))


@dataclass(frozen=True)
class ExplorePage:
    jobs: list[Job]
    next_cursor: str | None
    examined: int


def _seek(app: App, f: JobFilters) -> str | None:
    """A first cursor starting at `until` when the index is ordered by creation time (no
    status filter): the page then costs O(log N) instead of a walk from the newest job."""
    if f.until is None or f.status is not None:
        return None
    queues = [f.queue] if f.queue else app.queues
    start: list[Any] = [int(f.until.timestamp() * 1000) + 1, ""]
    kind = "type" if f.type else "all"
    filters = {"status": None, "type": f.type, "queue": f.queue}
    return Cursor(filters, {q: list(start) for q in queues}, kind).encode()


async def explore(app: App, f: JobFilters, limit: int, cursor: str | None) -> ExplorePage:
    """One explorer page: `App.list_jobs` pages (keyset cursors, so no job is skipped or
    repeated while jobs move), narrowed by the filters the index does not know. Each
    inner page asks for no more jobs than are still missing, so every job it returns is
    examined and the cursor never passes a job that was not."""
    got: list[Job] = []
    examined = 0
    next_cursor = cursor if cursor is not None else _seek(app, f)
    first = True
    ordered_by_creation = f.status is None
    while len(got) < limit and (first or next_cursor is not None):
        first = False
        page = await app.list_jobs(status=f.status, type=f.type, queue=f.queue,
                                   limit=limit - len(got), cursor=next_cursor)
        next_cursor = page.next_cursor
        examined += len(page.jobs)
        got += [j for j in page.jobs if f.keeps(j)]
        if not f.narrowing or examined >= EXPLORE_BUDGET:
            break
        oldest = page.jobs[-1].created_at if page.jobs else None
        if ordered_by_creation and f.since and oldest and oldest < f.since:
            next_cursor = None  # everything further is older still
    return ExplorePage(got, next_cursor, examined)


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
    def can_cancel(self) -> bool:
        return not self.job.status.terminal

    @property
    def can_retry(self) -> bool:
        return self.job.status in (JobStatus.FAILED, JobStatus.CANCELLED)

    @property
    def can_run_now(self) -> bool:
        return self.job.status in (JobStatus.SCHEDULED, JobStatus.RETRYING)

    @property
    def can_delete(self) -> bool:
        return self.job.status.terminal


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
    events = await console.job_events(job.queue, job.id)
    kept = [_kept_attempt(a) for a in await Trail(app.store).attempts(job.queue, job.id)]
    current_told = any(a.run == job.run and not a.stale for a in kept)
    started = job.started_at is not None and job.run > 0
    if started and not current_told and job.status not in (
        JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.RETRYING
    ):
        kept.append(_current_attempt(job))
    task = app.tasks.get(job.type)
    k = app.store.keys(job.queue)
    commands = [
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
        return cls(_opt(query, "queue"), _opt(query, "type"), _opt(query, "fingerprint", 64))

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


