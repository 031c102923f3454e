"""History searches: the filters, the page model and the keyset cursor. Pure code, no I/O.

A page is ordered by (finished, job id, run), newest first. The cursor holds the key of the
last row returned and the filters it was made for, never an offset: rows archived while a
client pages (always newer than the ones already seen, or older ones of a catching-up
archiver) cannot shift a page, and every matching row is returned once.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from ..errors import ValidationError
from ..job import Job, JobStatus
from ..ops.pagination import MAX_PAGE
from ..requests import to_ms

CURSOR_VERSION = 1
TERMINAL = tuple(s.value for s in JobStatus if s.terminal)
MAX_PAYLOAD_FILTERS = 10
MAX_PATH_DEPTH = 8
MAX_TEXT = 1000


class HistoryPage(BaseModel):
    """One page of archived jobs, newest finished first; pass `next_cursor` back for the
    next one (None: the end)."""

    model_config = ConfigDict(frozen=True)

    jobs: list[Job]
    next_cursor: str | None


@dataclass(frozen=True)
class PayloadMatch:
    """`payload.<path>=<value>`: the payload holds `value` at `path`.

    The value is read as JSON when it parses; a bare number, `true`, `false` or `null`
    also matches the same text as a string (`payload.customer=1234` finds 1234 and
    "1234"); a quoted value matches that string only; anything else is a string."""

    path: tuple[str, ...]
    candidates: tuple[Any, ...]

    def documents(self) -> list[Any]:
        """The JSON documents to test with `payload @> document`, any of which matches."""
        out = []
        for value in self.candidates:
            doc = value
            for key in reversed(self.path):
                doc = {key: doc}
            out.append(doc)
        return out


def payload_match(path: str, raw: str) -> PayloadMatch:
    """Parse one payload filter; a clear ValidationError names the offending parameter."""
    name = f"payload.{path}"
    _no_nul(name, path + raw)
    keys = tuple(path.split("."))
    if not path or any(not k for k in keys) or len(keys) > MAX_PATH_DEPTH:
        raise ValidationError(
            f"{name}: a payload path is 1 to {MAX_PATH_DEPTH} dot-separated keys", field=name
        )
    if len(raw) > MAX_TEXT:
        raise ValidationError(f"{name}: value is over {MAX_TEXT} characters", field=name)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return PayloadMatch(keys, (raw,))
    if isinstance(value, str):
        return PayloadMatch(keys, (value,))
    if isinstance(value, dict | list):
        return PayloadMatch(keys, (value,))
    return PayloadMatch(keys, (value, raw))


@dataclass(frozen=True)
class HistoryFilter:
    """What a history search selects; every field is optional, all given ones must hold."""

    status: str | None = None
    type: str | None = None
    queue: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    error_type: str | None = None
    fingerprint: str | None = None
    payload: tuple[PayloadMatch, ...] = field(default=())

    def key(self) -> dict[str, Any]:
        """The filters as plain JSON, stored in cursors to refuse reuse with others."""
        return {
            "status": self.status, "type": self.type, "queue": self.queue,
            "since": self.since_ms, "until": self.until_ms, "error_type": self.error_type,
            "fingerprint": self.fingerprint,
            "payload": [[list(m.path), list(m.candidates)] for m in self.payload],
        }


def build_filter(
    *,
    status: str | None = None,
    type: str | None = None,
    queue: str | None = None,
    since: datetime | float | None = None,
    until: datetime | float | None = None,
    payload: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    error_type: str | None = None,
    fingerprint: str | None = None,
) -> HistoryFilter:
    """Check every filter; raises ValidationError naming the first bad one."""
    if status is not None and status not in TERMINAL:
        raise ValidationError(
            f"unknown status {status!r}; the archive holds {', '.join(TERMINAL)}",
            field="status",
        )
    for name, value in (("type", type), ("queue", queue), ("error_type", error_type),
                        ("fingerprint", fingerprint)):
        if value is not None and not (isinstance(value, str) and 0 < len(value) <= 200):
            raise ValidationError(f"{name} must be 1 to 200 characters", field=name)
        _no_nul(name, value or "")
    since_ms, until_ms = to_ms(since, "since"), to_ms(until, "until")
    if since_ms is not None and until_ms is not None and since_ms > until_ms:
        raise ValidationError("since must not be after until", field="since")
    pairs = list(payload.items()) if isinstance(payload, Mapping) else list(payload or [])
    if len(pairs) > MAX_PAYLOAD_FILTERS:
        raise ValidationError(
            f"at most {MAX_PAYLOAD_FILTERS} payload filters", field="payload"
        )
    matches = tuple(payload_match(path, value) for path, value in pairs)
    return HistoryFilter(status, type, queue, since_ms, until_ms, error_type, fingerprint,
                         matches)


def _no_nul(name: str, text: str) -> None:
    """PostgreSQL text cannot hold NUL: such a filter could match nothing, so it is refused."""
    if "\x00" in text or "\\u0000" in text:
        raise ValidationError(f"{name} must not contain NUL characters", field=name)


def check_page_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be 1 to {MAX_PAGE}", field="limit")


# -- the keyset cursor -----------------------------------------------------------------------


@dataclass(frozen=True)
class RowKey:
    """Sort key of a row: finished time (microseconds since the epoch), job id, run."""

    finished_us: int
    job_id: str
    run: int

    @property
    def finished(self) -> datetime:
        return datetime.fromtimestamp(self.finished_us / 1_000_000, tz=UTC)

    @classmethod
    def of(cls, finished: datetime, job_id: str, run: int) -> RowKey:
        delta = finished - datetime(1970, 1, 1, tzinfo=UTC)
        us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return cls(us, job_id, run)


def encode_cursor(flt: HistoryFilter, after: RowKey) -> str:
    body = {"v": CURSOR_VERSION, "f": flt.key(),
            "k": [after.finished_us, after.job_id, after.run]}
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


def decode_cursor(text: str, flt: HistoryFilter) -> RowKey:
    """The row key a cursor made by `encode_cursor` for the same filters points after."""
    try:
        body = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, TypeError):
        raise ValidationError("cursor is not one this search returned", field="cursor") from None
    key = body.get("k") if isinstance(body, dict) else None
    if (
        not isinstance(body, dict) or body.get("v") != CURSOR_VERSION
        or not isinstance(key, list) or len(key) != 3
        or not all(isinstance(v, t) and not isinstance(v, bool)
                   for v, t in zip(key, (int, str, int), strict=True))
    ):
        raise ValidationError("cursor is not one this search returned", field="cursor")
    if body.get("f") != orjson.loads(orjson.dumps(flt.key())):
        raise ValidationError("cursor belongs to a search with other filters", field="cursor")
    return RowKey(key[0], key[1], key[2])
