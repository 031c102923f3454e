"""requeue.lua: a failed or cancelled job runs again under its id with a fresh budget,
and its dead-letter entries go (the store answers the previous status) | other statuses
-> InvalidTransition | missing -> JobNotFound."""

from __future__ import annotations

import pytest

from streamq.errors import InvalidTransition, JobNotFound
from streamq.store.codes import RequeueCode

from .conftest import Raises, Table
from .redis_state import (
    ANY_ID,
    NOW,
    K,
    Q,
    State,
    Stream,
    Ttl,
    ZSet,
    entry,
    event,
    events,
    record,
    running,
)

OUTCOME = {"error": "boom", "error_type": "LostWorker", "traceback": "tb",
           "reason": "lost worker", "finished": NOW - 10}
FAILED = running(status="failed", run=4, deliveries=4, attempt=2, lost=3, **OUTCOME)
DEAD = Stream([("5-0", {"job": "j1", "reason": "lost worker"}),
               ("6-0", {"job": "j0", "reason": "error"}),
               ("7-0", {"job": "j1", "reason": "error"})])
CANCELLED = running(status="cancelled", priority="high", reason="cancelled",
                    finished=NOW - 10)


def fresh(frm: str, priority: str = "normal", **fields: object) -> State:
    """The job queued again with attempt 1, its outcome fields gone."""
    return {
        K.job("j1"): running(status="queued", priority=priority, attempt=1, lost=0, due=NOW,
                             **fields),
        K.stream(priority): Stream([(ANY_ID, entry("j1", enq=NOW))]),
        K.index("queued"): ZSet({"j1": NOW}),
        K.events: events(event("j1", frm, "queued")),
    }


CASES = [
    pytest.param(
        {K.job("j1"): Ttl(FAILED, 600), K.dead: DEAD, K.index("failed"): ZSet({"j1": NOW - 10})},
        ["5-0", "6-0", "7-0", "8-0"], "failed",
        {**fresh("failed", run=4, deliveries=4),
         K.dead: Stream([("6-0", {"job": "j0", "reason": "error"})])},
        id="failed-fresh-budget-persisted-its-dead-entries-removed-others-kept",
    ),
    pytest.param(
        {K.job("j1"): Ttl(CANCELLED, 600), K.index("cancelled"): ZSet({"j1": NOW - 10})}, [],
        "cancelled", fresh("cancelled", priority="high"),
        id="cancelled-back-into-its-priority-stream",
    ),
    pytest.param(
        {K.job("j1"): Ttl(record("cancelled", due=NOW + 60_000, reason="cancelled",
                                 finished=NOW - 10), 600),
         K.index("cancelled"): ZSet({"j1": NOW - 10})}, [], "cancelled",
        {K.job("j1"): record("scheduled", due=NOW + 60_000),
         K.scheduled: ZSet({"j1": NOW + 60_000}), K.index("scheduled"): ZSet({"j1": NOW}),
         K.events: events(event("j1", "cancelled", "scheduled"))},
        id="cancelled-while-delayed-waits-again-for-its-time",
    ),
    pytest.param(
        {K.job("j1"): Ttl(record("cancelled", due=NOW - 1, reason="cancelled",
                                 finished=NOW - 10), 600),
         K.index("cancelled"): ZSet({"j1": NOW - 10})}, [], "cancelled",
        {K.job("j1"): record("queued", due=NOW),
         K.stream("normal"): Stream([(ANY_ID, entry("j1", enq=NOW))]),
         K.index("queued"): ZSet({"j1": NOW}),
         K.events: events(event("j1", "cancelled", "queued"))},
        id="cancelled-delayed-job-past-its-time-runs-at-once",
    ),
    pytest.param({}, [], Raises(JobNotFound, {"job_id": "j1"}), {}, id="job-missing"),
]

NOT_ENDED = ["scheduled", "queued", "processing", "retrying", "succeeded"]


@pytest.mark.parametrize(("before", "dead_entries", "reply", "after"), CASES)
async def test_requeue(
    table: Table, before: State, dead_entries: list[str], reply: str | Raises, after: State
) -> None:
    entries = [e.encode() for e in dead_entries]
    await table.check(before, lambda: table.store.requeue(Q, "j1", entries), reply, after)


@pytest.mark.parametrize("status", NOT_ENDED)
async def test_requeue_refuses_a_job_not_failed_or_cancelled(table: Table, status: str) -> None:
    before = {K.job("j1"): record(status), K.dead: DEAD}
    refused = Raises(InvalidTransition, {"job_id": "j1", "status": status})
    await table.check(before, lambda: table.store.requeue(Q, "j1", [b"5-0"]), refused, before)


async def test_requeue_many_answers_one_code_per_job(table: Table) -> None:
    """The dead-letter console's bulk retry: (job id, dead entry id) pairs, one code each."""
    before = {K.job("j1"): Ttl(FAILED, 600), K.dead: DEAD,
              K.index("failed"): ZSet({"j1": NOW - 10}), K.job("j2"): record("queued")}
    after = {**fresh("failed", run=4, deliveries=4), K.job("j2"): record("queued"),
             K.dead: Stream([("6-0", {"job": "j0", "reason": "error"}),
                             ("7-0", {"job": "j1", "reason": "error"})])}
    pairs = [("j1", "5-0"), ("j2", "9-0"), ("j3", "6-0")]
    codes = [RequeueCode.REQUEUED, RequeueCode.NOT_RETRYABLE, RequeueCode.NO_RECORD]
    await table.check(before, lambda: table.store.requeue_many(Q, pairs), codes, after)
