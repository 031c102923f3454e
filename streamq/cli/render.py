"""What the `streamq` client commands print: tables for people, JSON for scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
import orjson
from pydantic import BaseModel

from ..job import Job
from ..stats import QueueStats


def echo_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode())


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width table (no borders), one row per line: a cell's line breaks and
    tabs (a multi-line error message) are folded into single spaces."""
    cells = [[str(h) for h in headers], *[[_cell(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def job_rows(jobs: Sequence[Job]) -> str:
    return table(
        ["ID", "TYPE", "QUEUE", "PRIORITY", "STATUS", "ATTEMPT", "CREATED"],
        [[j.id, j.type, j.queue, j.priority.value, j.status.value, j.attempt,
          j.created_at.isoformat(timespec="seconds") if j.created_at else ""] for j in jobs],
    )


def job_detail(job: Job) -> str:
    """One `field: value` line per field that has a value."""
    data = job.model_dump(mode="json")
    width = max(len(k) for k in data)
    return "\n".join(
        f"{k.ljust(width)}  {orjson.dumps(v).decode() if isinstance(v, dict | list) else v}"
        for k, v in data.items() if v is not None and v != ""
    )


def queue_rows(stats: Sequence[QueueStats]) -> str:
    return table(
        ["QUEUE", "PRIORITY", "LENGTH", "LAG", "PENDING", "CONSUMERS", "OLDEST_S", "PAUSED",
         "SCHEDULED", "DEAD", "WORKERS", "SHARDS"],
        [[q.queue, p.priority, p.length, p.lag, p.pending, p.consumers,
          f"{p.oldest_age_s:.1f}", "yes" if p.paused else "no",
          q.scheduled, q.dead, q.workers, q.shards]
         for q in stats for p in q.priorities],
    )
