"""Archive rows: a job record (as the terminal script copied it to the archive stream)
turned into a row of the history table, and a row turned back into a Job. Pure code.

PostgreSQL refuses NUL characters in `text` and in `jsonb` strings: they are stored as
U+FFFD, the one change the archive makes to a job's data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from ..fingerprint import error_fingerprint
from ..job import Job, JobStatus, Priority, record_payload
from ..shards import id_shard

COLUMNS: tuple[str, ...] = (
    "job_id", "run", "finished_at", "queue", "type", "priority", "status", "payload",
    "result", "error", "error_type", "fingerprint", "traceback", "reason", "attempt",
    "max_retries", "timeout_s", "deliveries", "lost", "worker", "progress",
    "progress_message", "created_at", "scheduled_at", "started_at",
)
"""Column order of a row tuple, as written (archived_at is set by PostgreSQL)."""

SQL_TYPES: tuple[str, ...] = (
    "text", "integer", "timestamptz", "text", "text", "text", "text", "jsonb",
    "jsonb", "text", "text", "text", "text", "text", "integer",
    "integer", "double precision", "integer", "integer", "text", "double precision",
    "text", "timestamptz", "timestamptz", "timestamptz",
)

Row = tuple[Any, ...]
_NUL = "\x00"
_REPLACEMENT = "\ufffd"


def _ms(value: bytes | None) -> datetime | None:
    if not value:
        return None
    ms = int(value)
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms > 0 else None


def _text(value: bytes | None) -> str | None:
    if not value:
        return None
    text = value.decode(errors="replace")
    return text.replace(_NUL, _REPLACEMENT) if _NUL in text else text


def _json(value: bytes | None) -> str | None:
    """A JSON document as PostgreSQL's jsonb accepts it (no \\u0000 inside strings)."""
    if not value:
        return None
    if b"\\u0000" not in value:
        return value.decode()
    return orjson.dumps(_without_nul(orjson.loads(value))).decode()


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(_NUL, _REPLACEMENT)
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _int(value: bytes | None) -> int:
    return int(value) if value else 0


def to_row(queue: str, fields: Mapping[bytes, bytes]) -> Row:
    """The row of one archive entry (`id` plus the job record's fields)."""
    f = fields.get
    error, error_type = _text(f(b"error")), _text(f(b"error_type"))
    fingerprint = error_fingerprint(error_type or "", error) if error else None
    progress = f(b"progress")
    finished = _ms(f(b"finished"))
    if finished is None:  # every terminal script writes it; a damaged record is still kept
        finished = datetime.now(UTC)
    return (
        _text(f(b"id")), _int(f(b"run")), finished, queue, _text(f(b"type")) or "",
        _text(f(b"priority")) or "normal", _text(f(b"status")) or "", _json(record_payload(fields)),
        _json(f(b"result")), error, error_type, fingerprint, _text(f(b"traceback")),
        _text(f(b"reason")), _int(f(b"attempt")), _int(f(b"max_retries")),
        float(f(b"timeout") or 0), _int(f(b"deliveries")), _int(f(b"lost")),
        _text(f(b"worker")), float(progress) if progress else None,
        _text(f(b"progress_message")), _ms(f(b"created")), _ms(f(b"due")),
        _ms(f(b"started")),
    )


def stripped(row: Row, why: str) -> Row:
    """The row without its JSON documents and texts: what is still archived of a job whose
    data PostgreSQL refused, with the refusal in `reason`."""
    out = list(row)
    for name in ("payload", "result", "error", "traceback", "progress_message"):
        out[COLUMNS.index(name)] = None
    out[COLUMNS.index("reason")] = f"not archivable: {why}"[:500]
    return tuple(out)


def to_job(record: Mapping[str, Any]) -> Job:
    """A Job from a history row (column name -> value), marked as coming from history."""
    r = record.__getitem__

    def loaded(name: str) -> Any:
        value = record.get(name)
        return orjson.loads(value) if isinstance(value, str | bytes) else value

    return Job(
        id=r("job_id"), queue=r("queue"), type=r("type"), payload=loaded("payload"),
        priority=Priority(r("priority")), status=JobStatus(r("status")), attempt=r("attempt"),
        max_retries=r("max_retries"), timeout_s=r("timeout_s"), deliveries=r("deliveries"),
        lost=r("lost"), run=r("run"), created_at=r("created_at"),
        scheduled_at=r("scheduled_at"), started_at=r("started_at"),
        finished_at=r("finished_at"), result=loaded("result"), error=r("error"),
        error_type=r("error_type"), traceback=r("traceback"), reason=r("reason"),
        worker=r("worker"), progress=r("progress"), progress_message=r("progress_message"),
        source="history", shard=id_shard(r("job_id")),
    )


def columns_sql(names: Sequence[str] = COLUMNS) -> str:
    return ", ".join(names)
