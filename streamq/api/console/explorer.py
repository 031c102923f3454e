"""The jobs explorer: its filters as the URL holds them, and one page of jobs from either
source. `live` pages the listing indices in Redis; `history` pages the PostgreSQL archive
(when one is configured), where payloads and error types are searchable long after Redis
forgot the jobs. Both page with keyset cursors, so every match is shown once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...app import App
from ...errors import ValidationError
from ...fingerprint import error_fingerprint
from ...job import Job, Priority
from ...keys import STATUSES
from ...ops.pagination import Cursor

EXPLORE_BUDGET = 5_000
"""Jobs one explorer page examines at most when filters apply on top of the source's own."""
MAX_PAYLOAD_FILTERS = 10
LIVE, HISTORY = "live", "history"


def opt(query: Mapping[str, str], name: str, longest: int = 200) -> str | None:
    """A query parameter stripped, None when empty; a ValidationError when too long."""
    value = query.get(name, "").strip()
    if not value:
        return None
    if len(value) > longest:
        raise ValidationError(f"{name} is longer than {longest} characters", field=name)
    return value


def _time(query: Mapping[str, str], name: str) -> datetime | None:
    value = opt(query, name, 40)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name} must be a time such as 2025-01-31T12:00",
                              field=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _payload_filters(query: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """`payload=<path>=<value>` parameters (repeatable): the payload holds value at path."""
    getall = getattr(query, "getall", None)
    raw: list[str] = list(getall("payload", [])) if getall else [query.get("payload", "")]
    texts = [t.strip() for t in raw if t.strip()]
    if len(texts) > MAX_PAYLOAD_FILTERS:
        raise ValidationError(f"at most {MAX_PAYLOAD_FILTERS} payload filters", field="payload")
    pairs = []
    for text in texts:
        path, sep, value = text.partition("=")
        if not sep or not path.strip():
            raise ValidationError(
                f"payload filter {text[:60]!r} must read path=value, e.g. customer.id=1234",
                field="payload")
        pairs.append((path.strip(), value.strip()))
    return tuple(pairs)


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
    source: str = LIVE
    error_type: str | None = None
    payload: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> JobFilters:
        status = opt(query, "status")
        if status is not None and status not in STATUSES:
            raise ValidationError(f"unknown status {status!r}", field="status")
        priority = opt(query, "priority")
        if priority is not None:
            priority = Priority.parse(priority).value
        source = opt(query, "source") or LIVE
        if source not in (LIVE, HISTORY):
            raise ValidationError("source must be live or history", field="source")
        f = cls(status, opt(query, "type"), opt(query, "queue"), priority,
                _time(query, "since"), _time(query, "until"), opt(query, "fingerprint", 64),
                opt(query, "node"), opt(query, "id", 100), source,
                opt(query, "error_type"), _payload_filters(query))
        if f.since and f.until and f.since > f.until:
            raise ValidationError("since must not be after until", field="since")
        if source == LIVE and (f.payload or f.error_type):
            field = "payload" if f.payload else "error_type"
            raise ValidationError(
                f"{field} is searched in the history archive only: choose source history",
                field=field)
        return f

    def query(self) -> list[tuple[str, str]]:
        """The non-default filters as URL parameters (payload filters repeated)."""
        out: list[tuple[str, str]] = []
        for name, value in self.__dict__.items():
            if name == "payload":
                out += [("payload", f"{path}={v}") for path, v in value]
            elif name == "source":
                if value != LIVE:
                    out.append((name, value))
            elif value is not None:
                out.append((name, value.strftime("%Y-%m-%dT%H:%M:%S") if isinstance(
                    value, datetime) else str(value)))
        return out

    def value(self, name: str) -> str:
        """One parameter's URL form ('' when unset), for the form's inputs."""
        return dict(self.query()).get(name, "")

    @property
    def narrowing(self) -> bool:
        """Filters the source cannot apply itself, checked here on each job it returns."""
        if self.source == HISTORY:
            return self.priority is not None or self.node is not None
        return any(v is not None for v in (self.priority, self.since, self.until,
                                           self.fingerprint, self.node))

    def keeps(self, job: Job) -> bool:
        if self.priority is not None and job.priority.value != self.priority:
            return False
        if self.node is not None and (job.worker or "") != self.node:
            return False
        if self.source == HISTORY:
            return True  # the archive applied every other filter
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


Fetch = Callable[[int, str | None], Awaitable[tuple[list[Job], str | None]]]


def _seek(app: App, f: JobFilters) -> str | None:
    """A first cursor starting at `until` when the index is ordered by creation time (no
    status filter): the page then costs O(log N) instead of a walk from the newest job."""
    if f.until is None or f.status is not None:
        return None
    queues = app.registry.layout.expand([f.queue] if f.queue else app.queues)
    start: list[Any] = [int(f.until.timestamp() * 1000) + 1, ""]
    kind = "type" if f.type else "all"
    filters = {"status": None, "type": f.type, "queue": f.queue}
    return Cursor(filters, {q: list(start) for q in queues}, kind).encode()


def _live(app: App, f: JobFilters) -> Fetch:
    async def fetch(limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
        page = await app.list_jobs(status=f.status, type=f.type, queue=f.queue,
                                   limit=limit, cursor=cursor)
        return page.jobs, page.next_cursor

    return fetch


def _history(app: App, f: JobFilters) -> Fetch:
    async def fetch(limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
        page = await app.history(
            limit=limit, cursor=cursor, status=f.status, type=f.type, queue=f.queue,
            since=f.since, until=f.until, fingerprint=f.fingerprint,
            error_type=f.error_type, payload=f.payload,
        )
        return page.jobs, page.next_cursor

    return fetch


async def explore(app: App, f: JobFilters, limit: int, cursor: str | None) -> ExplorePage:
    """One explorer page from the filters' source, narrowed by the filters that source
    does not know. Each inner page asks for no more jobs than are still missing, so every
    job it returns is examined and the cursor never passes a job that was not."""
    history = f.source == HISTORY
    fetch = _history(app, f) if history else _live(app, f)
    got: list[Job] = []
    examined = 0
    next_cursor = cursor if cursor is not None or history else _seek(app, f)
    first = True
    while len(got) < limit and (first or next_cursor is not None):
        first = False
        jobs, next_cursor = await fetch(limit - len(got), next_cursor)
        examined += len(jobs)
        got += [j for j in jobs if f.keeps(j)]
        if not f.narrowing or examined >= EXPLORE_BUDGET:
            break
        oldest = jobs[-1].created_at if jobs else None
        if not history and f.status is None and f.since and oldest and oldest < f.since:
            next_cursor = None  # ordered by creation: everything further is older still
    return ExplorePage(got, next_cursor, examined)
