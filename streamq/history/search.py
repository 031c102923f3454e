"""The SQL of a history search, built from checked filters. Pure code, no I/O.

Every value travels as a query parameter; column names come from this module only.
"""

from __future__ import annotations

from typing import Any

import orjson

from .query import HistoryFilter, RowKey
from .schema import TABLE

ORDER = "ORDER BY finished_at DESC, job_id DESC, run DESC"


def search_sql(flt: HistoryFilter, after: RowKey | None, limit: int) -> tuple[str, list[Any]]:
    """SELECT of the rows matching `flt`, newest finished first, strictly after `after`."""
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where: list[str] = []
    for column, value in (("status", flt.status), ("type", flt.type), ("queue", flt.queue),
                          ("error_type", flt.error_type), ("fingerprint", flt.fingerprint)):
        if value is not None:
            where.append(f"{column} = {arg(value)}")
    if flt.since_ms is not None:
        where.append(f"finished_at >= to_timestamp({arg(flt.since_ms / 1000)})")
    if flt.until_ms is not None:
        where.append(f"finished_at <= to_timestamp({arg(flt.until_ms / 1000)})")
    for match in flt.payload:
        tests = [f"payload @> {arg(orjson.dumps(doc).decode())}::jsonb"
                 for doc in match.documents()]
        where.append(tests[0] if len(tests) == 1 else f"({' OR '.join(tests)})")
    if after is not None:
        where.append(
            f"(finished_at, job_id, run) < ({arg(after.finished)}, {arg(after.job_id)}, "
            f"{arg(after.run)})"
        )
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    return f"SELECT * FROM {TABLE} {clause}{ORDER} LIMIT {arg(limit)}", args
