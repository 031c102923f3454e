"""dlq_delete.lua: a live entry (its job still `failed` from that very failure) goes with the
job's record and index entries | a stale entry (the job requeued, or failed again since) is
only removed from the stream | an entry whose job has no record is removed (-1) | other
jobs' entries, and other entries of the same job, are left alone."""

from __future__ import annotations

import pytest

from streamq.store.codes import DlqDeleteCode

from .conftest import Table
from .redis_state import (
    NOW,
    TYPE,
    K,
    Q,
    State,
    Stream,
    Ttl,
    ZSet,
    event,
    events,
    record,
    running,
)

T1, T2 = NOW - 900, NOW - 400
"""Failure times of j1 and j2 (the dead entries' `time`)."""


DELETED, STALE, NO_RECORD = DlqDeleteCode.DELETED, DlqDeleteCode.STALE, DlqDeleteCode.NO_RECORD


def dead(job_id: str, time_ms: int, attempt: int = 4) -> dict[str, str]:
    return {"job": job_id, "type": TYPE, "reason": "retries exhausted",
            "error_type": "ValueError", "error": "boom", "attempt": str(attempt),
            "time": str(time_ms)}


def failed(finished: int) -> Ttl:
    return Ttl(running(status="failed", attempt=4, finished=finished, error="boom",
                       error_type="ValueError", reason="retries exhausted"), 3600)


E1, E2 = ("1-0", dead("j1", T1)), ("2-0", dead("j2", T2))
BOTH: State = {
    K.job("j1"): failed(T1),
    K.job("j2"): failed(T2),
    K.dead: Stream([E1, E2]),
    K.index("failed"): ZSet({"j1": T1, "j2": T2}),
    K.index_all: ZSet({"j1": NOW - 5_000, "j2": NOW - 4_000}),
    K.index_type(TYPE): ZSet({"j1": NOW - 5_000, "j2": NOW - 4_000}),
}
ONLY_J2: State = {
    K.job("j2"): failed(T2),
    K.dead: Stream([E2]),
    K.index("failed"): ZSet({"j2": T2}),
    K.index_all: ZSet({"j2": NOW - 4_000}),
    K.index_type(TYPE): ZSet({"j2": NOW - 4_000}),
}
DELETED_EVENT = events(event("j1", "failed", "deleted", attempt=4))
REQUEUED = record("queued", due=NOW - 100)
"""j1 after a requeue: queued again, attempt back to 1 (its dead entry left behind)."""

CASES = [
    pytest.param(BOTH, [("1-0", "j1", T1)], [DELETED], {**ONLY_J2, K.events: DELETED_EVENT},
                 id="live-entry-job-and-its-index-entries-deleted-others-kept"),
    pytest.param(
        {**BOTH, K.job("j1"): REQUEUED, K.index("failed"): ZSet({"j2": T2})},
        [("1-0", "j1", T1)], [STALE],
        {**BOTH, K.job("j1"): REQUEUED, K.index("failed"): ZSet({"j2": T2}),
         K.dead: Stream([E2])},
        id="stale-entry-of-a-requeued-job-only-the-entry-removed",
    ),
    pytest.param(
        {**BOTH, K.job("j1"): failed(NOW - 100), K.dead: Stream([E1, E2, ("3-0", dead(
            "j1", NOW - 100))])},
        [("1-0", "j1", T1)], [STALE],
        {**BOTH, K.job("j1"): failed(NOW - 100), K.dead: Stream([E2, ("3-0", dead(
            "j1", NOW - 100))])},
        id="stale-entry-of-an-earlier-failure-the-live-one-kept",
    ),
    pytest.param(
        {key: value for key, value in BOTH.items() if key != K.job("j1")},
        [("1-0", "j1", T1)], [NO_RECORD],
        {key: value for key, value in BOTH.items() if key != K.job("j1")}
        | {K.dead: Stream([E2])},
        id="record-expired-entry-removed-index-left-to-trim",
    ),
    pytest.param(BOTH, [("1-0", "unknown", T1)], [NO_RECORD], {**BOTH, K.dead: Stream([E2])},
                 id="unknown-job-id-only-the-named-entry-removed"),
    pytest.param(BOTH, [("9-0", "unknown", T1)], [NO_RECORD], BOTH,
                 id="unknown-entry-and-job-nothing-changes"),
    pytest.param(
        BOTH, [("1-0", "j1", T1), ("2-0", "j2", T2)], [DELETED, DELETED],
        {K.dead: Stream([]), K.events: events(
            event("j1", "failed", "deleted", attempt=4),
            event("j2", "failed", "deleted", attempt=4))},
        id="batch-every-live-entry-deleted",
    ),
    pytest.param(
        BOTH, [("1-0", "j1", T1), ("1-0", "j1", T1)], [DELETED, NO_RECORD],
        {**ONLY_J2, K.events: DELETED_EVENT}, id="same-entry-twice-deleted-once",
    ),
]


@pytest.mark.parametrize(("before", "entries", "reply", "after"), CASES)
async def test_dlq_delete(
    table: Table, before: State, entries: list[tuple[str, str, int]],
    reply: list[DlqDeleteCode], after: State,
) -> None:
    """Entries are (entry id, job id, entry time), as listing the dead letters gives them."""
    triples = [(e, j, TYPE, str(t)) for e, j, t in entries]
    await table.check(before, lambda: table.store.dlq_delete(Q, triples), reply, after)
